"""Follow-up records (跟进记录) on customers (and, later, leads), with attachments and the next plan."""
