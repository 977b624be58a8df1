//! Tenants, users and their sessions.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Role, Session, Sqlite, StoreError, Tenant, Unique, User, now_ms, on_unique};
use crate::domain::{TenantId, UserId};

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get("role")?;
    Ok(User {
        id: r.get("id")?,
        email: r.get("email")?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        tenant_id: r.get("tenant_id")?,
    })
}

/// Whether the email is a person of the tenant.
fn is_member(conn: &Connection, tenant_id: TenantId, email: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE email = ?1 AND tenant_id = ?2)",
        params![email, tenant_id],
        |r| r.get(0),
    )
}

/// A new tenant; names need not be unique (migration 0009).
fn insert_tenant(conn: &Connection, name: &str) -> Result<Tenant> {
    conn.execute(
        "INSERT INTO tenants (name, created_at) VALUES (?1, ?2)",
        params![name, now_ms()],
    )?;
    Ok(Tenant {
        id: TenantId(conn.last_insert_rowid()),
        name: name.into(),
    })
}

fn insert_user(
    conn: &Connection,
    tenant_id: TenantId,
    email: &str,
    hash: &str,
    role: Role,
) -> Result<User> {
    conn.execute(
        "INSERT INTO users (tenant_id, email, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![tenant_id, email, hash, role.as_str(), now_ms()],
    )
    .map_err(|e| on_unique(e, Unique::UserEmail))?;
    Ok(User {
        id: UserId(conn.last_insert_rowid()),
        email: email.into(),
        role,
        tenant_id,
    })
}

impl Sqlite {
    /// Creates a tenant and its first admin, unless `only_if_no_user` and a user exists already
    /// (checked in the same transaction, so two racing first sign-ups cannot both win).
    pub async fn signup(
        &self,
        tenant_name: String,
        email: String,
        password_hash: String,
        only_if_no_user: bool,
    ) -> Result<Option<(User, Tenant)>> {
        self.write(move |conn| {
            if only_if_no_user {
                let users: i64 = conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
                if users > 0 {
                    return Ok(None);
                }
            }
            let tenant = insert_tenant(conn, &tenant_name)?;
            let user = insert_user(conn, tenant.id, &email, &password_hash, Role::Admin)?;
            Ok(Some((user, tenant)))
        })
        .await
    }

    /// Every tenant, for the background work done per tenant.
    pub async fn tenant_ids(&self) -> Result<Vec<TenantId>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT id FROM tenants ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// True once anyone has an account.
    pub async fn has_users(&self) -> Result<bool> {
        self.read(|conn| {
            Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?)
        })
        .await
    }

    /// Adds a user to the named tenant, creating the tenant when it does not exist (names are
    /// labels, not unique: a name that several tenants have is refused as ambiguous).
    pub async fn add_user_to_named_tenant(
        &self,
        tenant_name: String,
        email: String,
        password_hash: String,
        role: Role,
    ) -> Result<(User, Tenant)> {
        self.write(move |conn| {
            let mut named: Vec<Tenant> = conn
                .prepare("SELECT id, name FROM tenants WHERE name = ?1 ORDER BY id")?
                .query_map([&tenant_name], |r| {
                    Ok(Tenant {
                        id: r.get(0)?,
                        name: r.get(1)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            if named.len() > 1 {
                return Err(StoreError::Conflict(format!(
                    "{} tenants are named {tenant_name:?}: add the user from the dashboard",
                    named.len()
                )));
            }
            let tenant = match named.pop() {
                Some(t) => t,
                None => insert_tenant(conn, &tenant_name)?,
            };
            let user = insert_user(conn, tenant.id, &email, &password_hash, role)?;
            Ok((user, tenant))
        })
        .await
    }

    pub async fn create_user(
        &self,
        tenant_id: TenantId,
        email: String,
        password_hash: String,
        role: Role,
    ) -> Result<User> {
        self.write(move |conn| {
            insert_user(conn, tenant_id, &email, &password_hash, role).map_err(|e| match e {
                // The admin's own people they see anyway; of anyone else nothing is said.
                StoreError::Conflict(_) if is_member(conn, tenant_id, &email).unwrap_or(false) => {
                    StoreError::Conflict("this email is already one of your people".into())
                }
                other => other,
            })
        })
        .await
    }

    /// The user with this email, their tenant and their password hash.
    pub async fn user_for_login(&self, email: String) -> Result<Option<(User, Tenant, String)>> {
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT u.id, u.email, u.role, u.tenant_id, u.password_hash, t.name AS tenant_name
                     FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.email = ?1",
                    [&email],
                    |r| {
                        let user = user_from_row(r)?;
                        let tenant = Tenant { id: user.tenant_id, name: r.get("tenant_name")? };
                        Ok((user, tenant, r.get("password_hash")?))
                    },
                )
                .optional()?)
        })
        .await
    }

    pub async fn create_session(
        &self,
        user_id: UserId,
        token_hash: String,
        expires_at: i64,
    ) -> Result<()> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash, user_id, now_ms(), expires_at],
            )?;
            Ok(())
        })
        .await
    }

    /// The live session of a token hash: not expired, not revoked, its user not deleted.
    pub async fn session(&self, token_hash: String) -> Result<Option<Session>> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT u.id, u.email, u.role, u.tenant_id, t.name AS tenant_name, s.expires_at
                     FROM sessions s JOIN users u ON u.id = s.user_id JOIN tenants t ON t.id = u.tenant_id
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2",
                )?
                .query_row(params![token_hash, now_ms()], |r| {
                    let user = user_from_row(r)?;
                    let tenant = Tenant { id: user.tenant_id, name: r.get("tenant_name")? };
                    Ok(Session {
                        user,
                        tenant,
                        expires_at: r.get("expires_at")?,
                    })
                })
                .optional()?)
        })
        .await
    }

    pub async fn delete_session(&self, token_hash: String) -> Result<()> {
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM sessions WHERE token_hash = ?1 OR expires_at <= ?2",
                params![token_hash, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn list_users(&self, tenant_id: TenantId) -> Result<Vec<User>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, email, role, tenant_id FROM users WHERE tenant_id = ?1 ORDER BY id",
            )?;
            let users = stmt
                .query_map([tenant_id], user_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(users)
        })
        .await
    }

    /// Gives a person of the tenant another role; a tenant keeps at least one admin. Takes
    /// effect at their next request (roles are read with the session).
    pub async fn set_user_role(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        role: Role,
    ) -> Result<User> {
        self.write(move |conn| {
            let current = role_of(conn, tenant_id, user_id)?;
            if current == "admin" && role != Role::Admin && admin_count(conn, tenant_id)? <= 1 {
                return Err(StoreError::Conflict(
                    "the last admin of a tenant cannot become operator or viewer".into(),
                ));
            }
            conn.execute(
                "UPDATE users SET role = ?1 WHERE id = ?2 AND tenant_id = ?3",
                params![role.as_str(), user_id, tenant_id],
            )?;
            Ok(conn.query_row(
                "SELECT id, email, role, tenant_id FROM users WHERE id = ?1",
                [user_id],
                user_from_row,
            )?)
        })
        .await
    }

    /// Deletes a user of the tenant (and their sessions). The last admin of a tenant stays.
    pub async fn delete_user(&self, tenant_id: TenantId, user_id: UserId) -> Result<()> {
        self.write(move |conn| {
            let role = role_of(conn, tenant_id, user_id)?;
            if role == "admin" && admin_count(conn, tenant_id)? <= 1 {
                return Err(StoreError::Conflict(
                    "the last admin of a tenant cannot be deleted".into(),
                ));
            }
            conn.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
            conn.execute(
                "DELETE FROM users WHERE id = ?1 AND tenant_id = ?2",
                params![user_id, tenant_id],
            )?;
            Ok(())
        })
        .await
    }
}

/// A person's role, if they are in the tenant.
fn role_of(conn: &rusqlite::Connection, tenant_id: TenantId, user_id: UserId) -> Result<String> {
    conn.query_row(
        "SELECT role FROM users WHERE id = ?1 AND tenant_id = ?2",
        params![user_id, tenant_id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

fn admin_count(conn: &rusqlite::Connection, tenant_id: TenantId) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM users WHERE tenant_id = ?1 AND role = 'admin'",
        [tenant_id],
        |r| r.get(0),
    )?)
}
