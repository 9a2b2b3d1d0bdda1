"""What every CRM module shares: the resource declaration, data scope, change history, attachments."""
