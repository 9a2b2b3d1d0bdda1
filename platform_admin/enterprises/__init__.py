"""Enterprise profiles (用户详细信息表): the client companies, each a tenant once opened."""
