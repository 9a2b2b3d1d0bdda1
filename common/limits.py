"""How long a value may be, one set for both databases.

Provisioning copies part of the enterprise profile into the tenant's own database: the root
department is named after the enterprise, the first administrator gets the contact's name, phone and
e-mail, and the identity marker the enterprise number. The tenant columns are declared with these
lengths and the control plane's forms accept no more, so a profile that was accepted always
provisions (the control database's own columns may be wider; they are not the limit).
"""

PERSON_NAME = 50  # sys_user.full_name <- enterprise contact, applicant's name
USERNAME = 50  # sys_user.username
PHONE = 20  # sys_user.phone <- enterprise contact phone (normalised digits)
EMAIL = 100  # sys_user.email <- enterprise e-mail
DEPT_NAME = 100  # sys_dept.dept_name
ENTERPRISE_NAME = DEPT_NAME  # the root department carries the enterprise's name; also the applicant's company
ENTERPRISE_NO = 20  # tenant_identity.enterprise_no <- the generated enterprise number
