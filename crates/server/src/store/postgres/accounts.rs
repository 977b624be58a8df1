//! Tenants, users, sessions.

use super::super::{Result, Role, Session, StoreError, Tenant, User};
use super::Pg;
use crate::domain::{TenantId, UserId};

impl Pg {
    pub async fn signup(
        &self,
        _tenant_name: String,
        _email: String,
        _password_hash: String,
        _only_if_no_user: bool,
    ) -> Result<Option<(User, Tenant)>> {
        Err(StoreError::Unavailable(
            "signup: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn tenant_ids(&self) -> Result<Vec<TenantId>> {
        Err(StoreError::Unavailable(
            "tenant_ids: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn has_users(&self) -> Result<bool> {
        Err(StoreError::Unavailable(
            "has_users: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn add_user_to_named_tenant(
        &self,
        _tenant_name: String,
        _email: String,
        _password_hash: String,
        _role: Role,
    ) -> Result<(User, Tenant)> {
        Err(StoreError::Unavailable(
            "add_user_to_named_tenant: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn create_user(
        &self,
        _tenant_id: TenantId,
        _email: String,
        _password_hash: String,
        _role: Role,
    ) -> Result<User> {
        Err(StoreError::Unavailable(
            "create_user: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn user_for_login(&self, _email: String) -> Result<Option<(User, Tenant, String)>> {
        Err(StoreError::Unavailable(
            "user_for_login: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn create_session(
        &self,
        _user_id: UserId,
        _token_hash: String,
        _expires_at: i64,
    ) -> Result<()> {
        Err(StoreError::Unavailable(
            "create_session: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn session(&self, _token_hash: String) -> Result<Option<Session>> {
        Err(StoreError::Unavailable(
            "session: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn delete_session(&self, _token_hash: String) -> Result<()> {
        Err(StoreError::Unavailable(
            "delete_session: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn list_users(&self, _tenant_id: TenantId) -> Result<Vec<User>> {
        Err(StoreError::Unavailable(
            "list_users: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn set_user_role(
        &self,
        _tenant_id: TenantId,
        _user_id: UserId,
        _role: Role,
    ) -> Result<User> {
        Err(StoreError::Unavailable(
            "set_user_role: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn delete_user(&self, _tenant_id: TenantId, _user_id: UserId) -> Result<()> {
        Err(StoreError::Unavailable(
            "delete_user: not on PostgreSQL yet".into(),
        ))
    }
}
