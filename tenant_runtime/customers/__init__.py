"""The customer archive (客户): fields, uniqueness, duplicate check, lists, history, soft delete, 360 view."""
