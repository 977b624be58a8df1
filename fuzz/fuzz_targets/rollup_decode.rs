//! The day rollups' packed `figures` column, as the server decodes it when it reads a day back
//! (crates/server/src/store/rollups.rs): any bytes a damaged row can hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assetlog_server::store::check_rollup_decoding(data);
});
