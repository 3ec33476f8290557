//! The server address: how `--host` / `OLLAMA_HOST` / `host` in the config file is read into a
//! base URL (docs/ARCHITECTURE.md, Ollama fact 7).

use std::net::Ipv6Addr;

/// The server used when nothing is configured: where `ollama serve` listens by default.
pub const DEFAULT_HOST: &str = "http://127.0.0.1:11434/";

/// Ollama's port, added by [`normalize_host`] to an address given without scheme and port.
pub const DEFAULT_PORT: u16 = 11434;

/// Normalises an Ollama address the way `OLLAMA_HOST` is read (Ollama fact 7 in docs/ARCHITECTURE.md) into
/// `scheme://host:port/path/`, the base URL ollama-rs and [`super::Llm`] append `api/…` to.
///
/// - blank → [`DEFAULT_HOST`] (`http://127.0.0.1:11434/`);
/// - no scheme → `http://`, and without a port `:11434` (`localhost` →
///   `http://localhost:11434/`);
/// - a scheme but no port → the scheme's port, as Ollama's own client does (`envconfig.Host()` in
///   ollama/ollama: `http://box` → `http://box:80/`, `https://box` → `https://box:443/`);
/// - a port that is not a number in 0–65535 → the default port (again as Ollama does);
/// - `0.0.0.0`, `::` and an empty host (`:11434`) → loopback (`127.0.0.1`, `[::1]`): the address
///   a server listens on is not one to connect to;
/// - a bare IPv6 address gets brackets (`::1` → `http://[::1]:11434/`);
/// - the path is kept (a reverse proxy under a prefix) and ends with `/`.
pub fn normalize_host(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() {
        return DEFAULT_HOST.to_owned();
    }
    let (scheme, rest, default_port) = match s.split_once("://") {
        None => ("http".to_owned(), s, DEFAULT_PORT),
        Some((scheme, rest)) => {
            let scheme = scheme.to_ascii_lowercase();
            let port = if scheme == "https" { 443 } else { 80 };
            (scheme, rest, port)
        }
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(hostport);
    let port = port
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(default_port);
    let host = loopback_if_unspecified(host);
    let mut path = path.to_owned();
    if !path.ends_with('/') {
        path.push('/');
    }
    format!("{scheme}://{host}:{port}{path}")
}

/// `host[:port]`, `[v6][:port]` or a bare IPv6 address → (host, with brackets for IPv6; port).
fn split_host_port(hostport: &str) -> (String, Option<&str>) {
    if let Some((host, after)) = hostport
        .strip_prefix('[')
        .and_then(|inner| inner.split_once(']'))
    {
        return (format!("[{host}]"), after.strip_prefix(':'));
    }
    if hostport.parse::<Ipv6Addr>().is_ok() {
        return (format!("[{hostport}]"), None);
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), Some(port)),
        None => (hostport.to_owned(), None),
    }
}

fn loopback_if_unspecified(host: String) -> String {
    if host.is_empty() || host == "0.0.0.0" {
        return "127.0.0.1".to_owned();
    }
    let v6 = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    if v6.is_some_and(|h| h.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_unspecified())) {
        return "[::1]".to_owned();
    }
    host
}
