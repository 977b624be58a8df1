//! Email, through the SMTP server of `--smtp-url` (lettre): `smtp://HOST:PORT` (add
//! `?tls=required` for STARTTLS) or `smtps://HOST:PORT` (TLS from the start), credentials in the
//! URL or from `--smtp-username` and `--smtp-password-file`, sender `--mail-from`. Without
//! `--smtp-url` no email is sent, and email channels are refused.

use anyhow::Context;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::ServeConfig;

/// A file attached to a message.
pub struct Attached {
    pub filename: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// The mailer the configuration asks for (None without `--smtp-url`); a bad URL, sender or
    /// password file stops the server at start with what is wrong.
    pub fn from_config(config: &ServeConfig) -> anyhow::Result<Option<Self>> {
        let Some(url) = &config.smtp_url else {
            return Ok(None);
        };
        let from: Mailbox = config
            .mail_from
            .as_deref()
            .context("--smtp-url needs --mail-from (the sender of alert emails and reports)")?
            .parse()
            .context("--mail-from is not an email address")?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .context("--smtp-url must be smtp://HOST:PORT or smtps://HOST:PORT")?
            .timeout(Some(std::time::Duration::from_secs(20)));
        if let Some(user) = &config.smtp_username {
            let file = config
                .smtp_password_file
                .as_ref()
                .context("--smtp-username needs --smtp-password-file")?;
            let password = std::fs::read_to_string(file).with_context(|| {
                format!("cannot read the SMTP password file {}", file.display())
            })?;
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.trim_end().to_owned(),
            ));
        }
        Ok(Some(Self {
            transport: builder.build(),
            from,
        }))
    }

    /// Sends one message with a text and an HTML part (and attachments); the server's
    /// refusal or the connection's failure as the error.
    pub async fn send(
        &self,
        to: &[String],
        subject: &str,
        text: String,
        html: String,
        attachments: Vec<Attached>,
    ) -> Result<(), String> {
        let mut builder = Message::builder().from(self.from.clone()).subject(subject);
        for address in to {
            builder = builder.to(address.parse().map_err(|e| format!("{address}: {e}"))?);
        }
        let body = MultiPart::alternative()
            .singlepart(SinglePart::plain(text))
            .singlepart(SinglePart::html(html));
        let message = if attachments.is_empty() {
            builder.multipart(body)
        } else {
            let mut mixed = MultiPart::mixed().multipart(body);
            for a in attachments {
                let kind = ContentType::parse(a.content_type).map_err(|e| e.to_string())?;
                mixed = mixed.singlepart(Attachment::new(a.filename).body(a.body, kind));
            }
            builder.multipart(mixed)
        }
        .map_err(|e| format!("cannot build the message: {e}"))?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| format!("the SMTP server refused or cannot be reached: {e}"))
    }
}

/// Text for HTML, escaped.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
