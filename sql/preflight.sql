-- What `python -m sparkify_assets.preflight` asks a PostgreSQL or Redshift server before the first
-- load: may this login do what loading does? One row per privilege, with what to grant if not.

-- name: privileges
SELECT 'create tables in schema ' || current_schema() AS privilege,
       has_schema_privilege(current_schema(), 'CREATE') AS granted,
       'GRANT CREATE ON SCHEMA ' || current_schema() || ' TO ' || current_user AS fix
UNION ALL
SELECT 'create temporary tables in database ' || current_database(),
       has_database_privilege(current_database(), 'TEMP'),
       'GRANT TEMP ON DATABASE ' || current_database() || ' TO ' || current_user;
