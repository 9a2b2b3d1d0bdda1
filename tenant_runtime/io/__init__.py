"""Moving records in and out of the CRM in bulk: export (导出) today, import later."""
