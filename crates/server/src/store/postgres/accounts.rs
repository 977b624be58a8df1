//! Tenants, users, sessions (the rules are those of store/sqlite/accounts.rs).
//!
//! SQLite decides each rule on its one writer thread; here several transactions (and replicas)
//! run at once, so each rule that reads before it writes holds a lock while it decides: see
//! [`USERS_LOCK`], [`TENANT_NAMES_LOCK`] and [`lock_admins`].

use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::super::{Result, Role, Session, StoreError, Tenant, Unique, User, now_ms};
use super::{Pg, Scope};
use crate::domain::{TenantId, UserId};

/// Advisory lock of the rule "a first sign-up only while nobody has an account": such a sign-up
/// holds it exclusively while it counts and inserts, every other new user holds it shared, so no
/// user can appear between the count and the insert.
const USERS_LOCK: i64 = 0x6173_7365_7475_7372; // "assetusr"

/// Advisory lock of the rule "a user added by tenant name creates that tenant only once": held
/// while the names are read and the tenant made, so two racing adds cannot make two tenants of
/// one name (which would make the name ambiguous ever after).
const TENANT_NAMES_LOCK: i64 = 0x6173_7365_7474_6e6d; // "assettnm"

fn user_from_row(r: &Row) -> Result<User> {
    let role: String = r.try_get("role")?;
    Ok(User {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        tenant_id: r.try_get("tenant_id")?,
    })
}

/// Whether the email is a person of the tenant.
async fn is_member(tx: &Transaction<'_>, tenant_id: TenantId, email: &str) -> Result<bool> {
    let stmt = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE email = $1 AND tenant_id = $2)")
        .await?;
    Ok(tx
        .query_one(&stmt, &[&email, &tenant_id])
        .await?
        .try_get(0)?)
}

/// A new tenant; names need not be unique.
async fn insert_tenant(tx: &Transaction<'_>, name: &str) -> Result<Tenant> {
    let stmt = tx
        .prepare_cached("INSERT INTO tenants (name, created_at) VALUES ($1, $2) RETURNING id")
        .await?;
    let row = tx.query_one(&stmt, &[&name, &now_ms()]).await?;
    Ok(Tenant {
        id: row.try_get(0)?,
        name: name.into(),
    })
}

/// A new user; holds [`USERS_LOCK`] shared (a first sign-up may be counting).
async fn insert_user(
    tx: &Transaction<'_>,
    tenant_id: TenantId,
    email: &str,
    hash: &str,
    role: Role,
) -> Result<User> {
    tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&USERS_LOCK])
        .await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO users (tenant_id, email, password_hash, role, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .await?;
    let row = tx
        .query_one(
            &stmt,
            &[&tenant_id, &email, &hash, &role.as_str(), &now_ms()],
        )
        .await
        .map_err(|e| super::on_unique(e, Unique::UserEmail))?;
    Ok(User {
        id: row.try_get(0)?,
        email: email.into(),
        role,
        tenant_id,
    })
}

impl Pg {
    pub async fn signup(
        &self,
        tenant_name: String,
        email: String,
        password_hash: String,
        only_if_no_user: bool,
    ) -> Result<Option<(User, Tenant)>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        if only_if_no_user {
            // Exclusive: no other user is inserted between this count and our insert.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&USERS_LOCK])
                .await?;
            let any = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM users)")
                .await?;
            if tx.query_one(&any, &[]).await?.try_get::<_, bool>(0)? {
                return Ok(None);
            }
        }
        let tenant = insert_tenant(&tx, &tenant_name).await?;
        let user = insert_user(&tx, tenant.id, &email, &password_hash, Role::Admin).await?;
        tx.commit().await?;
        Ok(Some((user, tenant)))
    }

    pub async fn tenant_ids(&self) -> Result<Vec<TenantId>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached("SELECT id FROM tenants ORDER BY id")
            .await?;
        let ids = tx
            .query(&stmt, &[])
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        tx.commit().await?;
        Ok(ids)
    }

    pub async fn has_users(&self) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM users)")
            .await?;
        let any = tx.query_one(&stmt, &[]).await?.try_get(0)?;
        tx.commit().await?;
        Ok(any)
    }

    pub async fn add_user_to_named_tenant(
        &self,
        tenant_name: String,
        email: String,
        password_hash: String,
        role: Role,
    ) -> Result<(User, Tenant)> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&TENANT_NAMES_LOCK])
            .await?;
        let stmt = tx
            .prepare_cached("SELECT id, name FROM tenants WHERE name = $1 ORDER BY id")
            .await?;
        let mut named: Vec<Tenant> = tx
            .query(&stmt, &[&tenant_name])
            .await?
            .iter()
            .map(|r| {
                Ok(Tenant {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                })
            })
            .collect::<Result<_>>()?;
        if named.len() > 1 {
            return Err(StoreError::Conflict(format!(
                "{} tenants are named {tenant_name:?}: add the user from the dashboard",
                named.len()
            )));
        }
        let tenant = match named.pop() {
            Some(t) => t,
            None => insert_tenant(&tx, &tenant_name).await?,
        };
        let user = insert_user(&tx, tenant.id, &email, &password_hash, role).await?;
        tx.commit().await?;
        Ok((user, tenant))
    }

    pub async fn create_user(
        &self,
        tenant_id: TenantId,
        email: String,
        password_hash: String,
        role: Role,
    ) -> Result<User> {
        let mut client = self.client().await?;
        let mut tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        // In a savepoint: a unique violation aborts it, and the transaction can still ask
        // whether the email is one of the tenant's.
        let insert = tx.savepoint("insert_user").await?;
        let inserted = insert_user(&insert, tenant_id, &email, &password_hash, role).await;
        let user = match inserted {
            Ok(user) => {
                insert.commit().await?;
                user
            }
            Err(StoreError::Conflict(message)) => {
                insert.rollback().await?;
                // The admin's own people they see anyway; of anyone else nothing is said.
                return Err(
                    if is_member(&tx, tenant_id, &email).await.unwrap_or(false) {
                        StoreError::Conflict("this email is already one of your people".into())
                    } else {
                        StoreError::Conflict(message)
                    },
                );
            }
            Err(other) => return Err(other),
        };
        tx.commit().await?;
        Ok(user)
    }

    pub async fn user_for_login(&self, email: String) -> Result<Option<(User, Tenant, String)>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT u.id, u.email, u.role, u.tenant_id, u.password_hash, t.name AS tenant_name
                 FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.email = $1",
            )
            .await?;
        let found = match tx.query_opt(&stmt, &[&email]).await? {
            Some(r) => {
                let user = user_from_row(&r)?;
                let tenant = Tenant {
                    id: user.tenant_id,
                    name: r.try_get("tenant_name")?,
                };
                Some((user, tenant, r.try_get("password_hash")?))
            }
            None => None,
        };
        tx.commit().await?;
        Ok(found)
    }

    pub async fn create_session(
        &self,
        user_id: UserId,
        token_hash: String,
        expires_at: i64,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .await?;
        tx.execute(&stmt, &[&token_hash, &user_id, &now_ms(), &expires_at])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn session(&self, token_hash: String) -> Result<Option<Session>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT u.id, u.email, u.role, u.tenant_id, t.name AS tenant_name, s.expires_at
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 JOIN tenants t ON t.id = u.tenant_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2",
            )
            .await?;
        let found = match tx.query_opt(&stmt, &[&token_hash, &now_ms()]).await? {
            Some(r) => {
                let user = user_from_row(&r)?;
                let tenant = Tenant {
                    id: user.tenant_id,
                    name: r.try_get("tenant_name")?,
                };
                Some(Session {
                    user,
                    tenant,
                    expires_at: r.try_get("expires_at")?,
                })
            }
            None => None,
        };
        tx.commit().await?;
        Ok(found)
    }

    pub async fn delete_session(&self, token_hash: String) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached("DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2")
            .await?;
        tx.execute(&stmt, &[&token_hash, &now_ms()]).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_users(&self, tenant_id: TenantId) -> Result<Vec<User>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT id, email, role, tenant_id FROM users WHERE tenant_id = $1 ORDER BY id",
            )
            .await?;
        let users = tx
            .query(&stmt, &[&tenant_id])
            .await?
            .iter()
            .map(user_from_row)
            .collect::<Result<_>>()?;
        tx.commit().await?;
        Ok(users)
    }

    pub async fn set_user_role(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        role: Role,
    ) -> Result<User> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        lock_admins(&tx, tenant_id).await?;
        let current = role_of(&tx, tenant_id, user_id).await?;
        if current == "admin" && role != Role::Admin && admin_count(&tx, tenant_id).await? <= 1 {
            return Err(StoreError::Conflict(
                "the last admin of a tenant cannot become operator or viewer".into(),
            ));
        }
        let stmt = tx
            .prepare_cached(
                "UPDATE users SET role = $1 WHERE id = $2 AND tenant_id = $3
                 RETURNING id, email, role, tenant_id",
            )
            .await?;
        let row = tx
            .query_opt(&stmt, &[&role.as_str(), &user_id, &tenant_id])
            .await?
            .ok_or(StoreError::NotFound)?;
        let user = user_from_row(&row)?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn delete_user(&self, tenant_id: TenantId, user_id: UserId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        lock_admins(&tx, tenant_id).await?;
        let role = role_of(&tx, tenant_id, user_id).await?;
        if role == "admin" && admin_count(&tx, tenant_id).await? <= 1 {
            return Err(StoreError::Conflict(
                "the last admin of a tenant cannot be deleted".into(),
            ));
        }
        let sessions = tx
            .prepare_cached("DELETE FROM sessions WHERE user_id = $1")
            .await?;
        tx.execute(&sessions, &[&user_id]).await?;
        let user = tx
            .prepare_cached("DELETE FROM users WHERE id = $1 AND tenant_id = $2")
            .await?;
        tx.execute(&user, &[&user_id, &tenant_id]).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Takes the tenant's row lock that every change which can take an admin away holds while it
/// counts the admins ("a tenant keeps at least one admin"): two admins demoting each other at
/// once take turns, and the second counts after the first committed. `FOR NO KEY UPDATE`, so
/// inserts that only reference the tenant (events, users) do not wait for it.
async fn lock_admins(tx: &Transaction<'_>, tenant_id: TenantId) -> Result<()> {
    let stmt = tx
        .prepare_cached("SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE")
        .await?;
    tx.query_opt(&stmt, &[&tenant_id]).await?;
    Ok(())
}

/// A person's role, if they are in the tenant.
async fn role_of(tx: &Transaction<'_>, tenant_id: TenantId, user_id: UserId) -> Result<String> {
    let stmt = tx
        .prepare_cached("SELECT role FROM users WHERE id = $1 AND tenant_id = $2")
        .await?;
    Ok(tx
        .query_opt(&stmt, &[&user_id, &tenant_id])
        .await?
        .ok_or(StoreError::NotFound)?
        .try_get(0)?)
}

async fn admin_count(tx: &Transaction<'_>, tenant_id: TenantId) -> Result<i64> {
    let stmt = tx
        .prepare_cached("SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND role = 'admin'")
        .await?;
    Ok(tx.query_one(&stmt, &[&tenant_id]).await?.try_get(0)?)
}
