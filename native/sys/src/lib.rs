//! Operating-system interfaces of the Vigil gateway that Node.js cannot reach by itself.
//!
//! Today: the systemd notification protocol (`sd_notify(3)`): a datagram of newline-separated
//! `KEY=VALUE` assignments sent to the `AF_UNIX` `SOCK_DGRAM` socket named by `$NOTIFY_SOCKET`
//! (a path, or an abstract name when it starts with `@`). Node has no Unix datagram sockets.
//!
//! No Node types here; the binding crate converts.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::io;
use std::os::unix::net::UnixDatagram;

/// Why a notification could not be sent.
#[derive(Debug)]
pub enum NotifyError {
    /// The message is empty, or a line is not `KEY=VALUE`.
    InvalidMessage(&'static str),
    /// The socket address in `$NOTIFY_SOCKET` is not usable.
    InvalidSocket(&'static str),
    /// Sending failed.
    Io(io::Error),
}

impl std::fmt::Display for NotifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotifyError::InvalidMessage(why) => write!(f, "invalid notification: {why}"),
            NotifyError::InvalidSocket(why) => write!(f, "invalid NOTIFY_SOCKET: {why}"),
            NotifyError::Io(e) => write!(f, "sd_notify failed: {e}"),
        }
    }
}

impl std::error::Error for NotifyError {}

/// Checks that `message` is one or more `KEY=VALUE` lines.
fn validate(message: &str) -> Result<(), NotifyError> {
    if message.is_empty() {
        return Err(NotifyError::InvalidMessage("empty"));
    }
    for line in message.lines() {
        match line.split_once('=') {
            Some((key, _)) if !key.is_empty() && key.chars().all(|c| c.is_ascii_uppercase() || c == '_') => {}
            _ => return Err(NotifyError::InvalidMessage("each line must be KEY=VALUE")),
        }
    }
    Ok(())
}

/// Sends `message` to the socket `socket` (the value of `$NOTIFY_SOCKET`).
pub fn notify_to(socket: &str, message: &str) -> Result<(), NotifyError> {
    validate(message)?;
    let sock = UnixDatagram::unbound().map_err(NotifyError::Io)?;
    if let Some(name) = socket.strip_prefix('@') {
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).map_err(NotifyError::Io)?;
            sock.send_to_addr(message.as_bytes(), &addr).map_err(NotifyError::Io)?;
            return Ok(());
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = name;
            return Err(NotifyError::InvalidSocket("abstract sockets need Linux"));
        }
    }
    if !socket.starts_with('/') {
        return Err(NotifyError::InvalidSocket("must be an absolute path or start with @"));
    }
    sock.send_to(message.as_bytes(), socket).map_err(NotifyError::Io)?;
    Ok(())
}

/// Sends `message` to `$NOTIFY_SOCKET`. Returns `Ok(false)` when the variable is not set (not
/// started by systemd with `Type=notify`), `Ok(true)` when sent.
pub fn notify(message: &str) -> Result<bool, NotifyError> {
    match std::env::var("NOTIFY_SOCKET") {
        Ok(socket) if !socket.is_empty() => notify_to(&socket, message).map(|()| true),
        _ => {
            validate(message)?;
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn req_safe_010_sends_a_datagram_to_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("vigil-sdnotify-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let server = UnixDatagram::bind(&dir).unwrap();
        notify_to(dir.to_str().unwrap(), "READY=1\nSTATUS=streaming").unwrap();
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=streaming");
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn req_safe_010_rejects_malformed_messages_and_sockets() {
        assert!(matches!(notify_to("/nonexistent", ""), Err(NotifyError::InvalidMessage(_))));
        assert!(matches!(notify_to("/nonexistent", "ready"), Err(NotifyError::InvalidMessage(_))));
        assert!(matches!(notify_to("relative", "READY=1"), Err(NotifyError::InvalidSocket(_))));
        assert!(matches!(notify_to("/nonexistent/socket", "READY=1"), Err(NotifyError::Io(_))));
    }
}
