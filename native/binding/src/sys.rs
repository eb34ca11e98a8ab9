//! Binding of `vigil-sys`: converts types and errors only.

use napi_derive::napi;

/// Sends a systemd notification (`READY=1`, `WATCHDOG=1`, `STATUS=...`) to `$NOTIFY_SOCKET`.
/// Returns `false` when the agent was not started by systemd (no socket), `true` when sent;
/// throws with the reason when the message is malformed or sending fails.
#[napi(catch_unwind, js_name = "sdNotify")]
pub fn sd_notify(message: String) -> napi::Result<bool> {
    vigil_sys::notify(&message).map_err(|e| napi::Error::from_reason(e.to_string()))
}
