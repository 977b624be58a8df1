//! The client's address, for the limits keyed by it (`crate::limits`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::limits::RetryAfter;

/// The address the request's connection comes from (the server's accept loop records it). A
/// proxy in front makes this the proxy's address: see docs/SECURITY.md.
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(Self(addr))
    }
}

/// The answer to an attempt over its limit.
pub fn too_many_attempts(retry: RetryAfter) -> ApiError {
    ApiError::too_many(
        "too_many_attempts",
        format!("too many attempts: try again in {} s", retry.seconds()),
        retry.seconds(),
    )
}

/// The answer when every hashing slot stayed busy.
pub fn busy() -> ApiError {
    ApiError::Later {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        code: "busy",
        message: crate::limits::Busy.to_string(),
        retry_after_s: 1,
    }
}
