//! The portal's settings in flash: a CA certificate of up to 3 KiB is kept beside the rest,
//! through the settings map's compactions (every release writes the highest seq there) and a
//! reboot; what the uploader makes of it is the CA that was saved.

mod flash;

use assetlog_core::setup::MAX_CA_PEM_LEN;
use assetlog_core::timebase::EventTime;
use assetlog_logger::settings::Settings;
use assetlog_logger::store::{SETTINGS_SECTORS, Store};
use assetlog_logger::tls::ServerCheck;
use embassy_futures::block_on;

use crate::flash::{Flash, SECTOR};

const SECTORS: usize = SETTINGS_SECTORS as usize + 8;

/// A PEM block of `len` characters (the base64 is not a certificate: the store keeps text).
fn pem_of_length(len: usize) -> String {
    let head = "-----BEGIN CERTIFICATE-----\n";
    let tail = "\n-----END CERTIFICATE-----";
    let body: String = "A".repeat(len - head.len() - tail.len());
    format!("{head}{body}{tail}")
}

#[test]
fn a_long_ca_certificate_is_kept_through_compactions_and_a_reboot() {
    block_on(async {
        let mut flash = Flash::new(SECTORS);
        let range = 0..(SECTORS * SECTOR) as u32;
        let settings = Settings {
            ssid: "Plant floor".into(),
            password: "correct horse".into(),
            server_url: "https://assetlog.plant.example".into(),
            tls_pin_sha256: String::new(),
            tls_ca_pem: pem_of_length(MAX_CA_PEM_LEN),
        };
        {
            let mut store = Store::open(&mut flash, range.clone()).await.unwrap().store;
            store.save_settings(&settings).await.unwrap();
            // Every release writes the highest seq to the map: hundreds of writes go round its
            // sectors and compact them, carrying the CA along.
            for i in 0..1500 {
                let time = EventTime::Wall {
                    ts_ms: 1_780_000_000_000 + i,
                };
                let change = store.record(0, i % 2 == 0, time).await.unwrap();
                store.release(change.seq).await.unwrap();
            }
            assert_eq!(store.settings().await.unwrap(), settings);
        }
        let mut store = Store::open(&mut flash, range).await.unwrap().store;
        assert_eq!(store.settings().await.unwrap(), settings, "after a reboot");
        assert_eq!(flash.misuses, 0);
    });
}

#[test]
fn the_server_check_is_the_pin_or_the_ca_that_was_saved() {
    let mut settings = Settings {
        server_url: "https://h".into(),
        ..Settings::default()
    };
    assert_eq!(settings.server_check(), Ok(None));
    settings.tls_pin_sha256 = "AB".repeat(32);
    assert_eq!(
        settings.server_check(),
        Ok(Some(ServerCheck::Pin([0xab; 32])))
    );
    settings.tls_pin_sha256 = "not hex".into();
    assert!(settings.server_check().is_err());

    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca", "Plant CA");
    settings.tls_pin_sha256.clear();
    settings.tls_ca_pem = ca.pem();
    let Ok(Some(ServerCheck::Ca(der))) = settings.server_check() else {
        panic!("the CA parses");
    };
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let expected = CertificateDer::from_pem_file(&ca.file).unwrap();
    assert_eq!(der, expected.as_ref());
    settings.tls_ca_pem = pem_of_length(200);
    assert!(
        settings.server_check().is_err(),
        "base64 that is not a certificate"
    );
}

#[path = "../../server/tests/support/certs.rs"]
mod certs;

#[test]
fn the_portal_inputs_are_kept_and_unset_inputs_read_as_none() {
    block_on(async {
        let mut flash = Flash::new(SECTORS);
        let range = 0..(SECTORS * SECTOR) as u32;
        let inputs = assetlog_logger::inputs::from_form(
            "gpio0=3&name0=Press&low0=on&gpio1=10&name1=Saw%2C+big&debounce1=120",
        )
        .unwrap();
        {
            let mut store = Store::open(&mut flash, range.clone()).await.unwrap().store;
            assert_eq!(store.inputs().await.unwrap(), None, "none set yet");
            store.save_inputs(&inputs).await.unwrap();
        }
        let mut store = Store::open(&mut flash, range).await.unwrap().store;
        assert_eq!(store.inputs().await.unwrap(), Some(inputs));
    });
}
