//! The optional HTTPS listener, with a certificate made in the test.

use std::sync::Arc;
use std::time::Duration;

use blog_infra::testing::{TestBackend, TestDatabase};

use crate::helpers::{spawn_app_on, test_settings};

/// A client that trusts `certificate` (DER) alone.
fn client_trusting(certificate: &[u8]) -> awc::Client {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(certificate.to_vec()))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(Arc::new(config)))
        .timeout(Duration::from_secs(10))
        .finish()
}

#[test]
fn with_a_certificate_the_api_is_served_over_https_only_with_hsts() {
    actix_web::rt::System::new().block_on(async {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (certificate, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&certificate, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        let paths = (
            certificate.to_str().unwrap().to_owned(),
            key.to_str().unwrap().to_owned(),
        );
        let database = Arc::new(TestDatabase::new(TestBackend::Sqlite));
        let app = spawn_app_on(database, move |database| {
            let mut settings = test_settings(database);
            settings.server.tls_certificate = Some(paths.0);
            settings.server.tls_private_key = Some(paths.1);
            settings
        })
        .await;
        let port = app.address.rsplit(':').next().unwrap().to_owned();

        let client = client_trusting(made.cert.der());
        let mut response = client
            .get(format!("https://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response
                .headers()
                .get("strict-transport-security")
                .and_then(|value| value.to_str().ok()),
            Some("max-age=31536000")
        );
        let body = response.body().await.unwrap();
        assert_eq!(&body[..], br#"{"status":"ok"}"#);

        // Plain HTTP on the same port gets no answer of the API.
        let plain = awc::Client::builder()
            .timeout(Duration::from_secs(5))
            .finish()
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await;
        assert!(
            plain
                .as_ref()
                .map_or(true, |response| response.status() != 200),
            "{:?}",
            plain.map(|response| response.status())
        );
    });
}

#[test]
fn without_a_certificate_there_is_no_hsts() {
    crate::helpers::on_an_app(TestBackend::Sqlite, |app| async move {
        let response = app.get("/healthz").await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("strict-transport-security"), None);
    });
}
