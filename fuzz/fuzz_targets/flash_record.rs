//! Core's flash record decoder (`LoggedChange::decode`): any bytes a torn or worn flash page can
//! hold. A record it accepts encodes back to a record that decodes the same.
#![no_main]

use assetlog_core::record::LoggedChange;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(change) = LoggedChange::decode(data) {
        assert_eq!(LoggedChange::decode(&change.encode()), Ok(change));
    }
});
