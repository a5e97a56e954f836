//! Database migrations for billbridge; the same migrations run on SQLite and PostgreSQL.
