//! The static server of `serve` and of the browser tests: `dist/` with the page's headers.
//!
//! One request per connection (`Connection: close`), a thread per connection. tiny_http, the
//! server before, now and then left a request unanswered on a kept-alive connection while the
//! browser tests loaded the page and several workers at once (tiny-http/tiny-http#244 is of
//! the kind), and CI went red on a test that waited for it. Nothing here keeps a connection.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::CSP;

/// The most a request's head may take: the browser's are a few hundred bytes.
const MAX_HEAD: usize = 64 * 1024;

/// Serves `dist` on 127.0.0.1:`port` (0: any free port) from a thread of its own; the port
/// it listens on, and the thread.
pub fn spawn(port: u16, dist: PathBuf) -> std::io::Result<(u16, JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    Ok((
        port,
        std::thread::spawn(move || serve_forever(listener, dist)),
    ))
}

fn serve_forever(listener: TcpListener, dist: PathBuf) {
    // A thread per connection: a large body the browser reads slowly (a streamed wasm compile)
    // must not hold up the small requests behind it.
    let dist = Arc::new(dist);
    for stream in listener.incoming().flatten() {
        let dist = Arc::clone(&dist);
        std::thread::spawn(move || {
            let _ = respond(stream, &dist);
        });
    }
}

fn respond(mut stream: TcpStream, dist: &Path) -> std::io::Result<()> {
    // A client that connects and says nothing does not keep a thread for ever.
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let Some((method, target)) = read_head(&mut stream)? else {
        return reply(&mut stream, 400, "text/plain", b"bad request", false);
    };
    let head_only = match method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => return reply(&mut stream, 405, "text/plain", b"GET only", false),
    };
    let url = target.split(['?', '#']).next().unwrap_or("/");
    let relative = url.trim_start_matches('/');
    if relative.split('/').any(|part| part == "..") {
        return reply(&mut stream, 400, "text/plain", b"bad path", head_only);
    }
    let mut path = dist.join(if relative.is_empty() {
        "index.html"
    } else {
        relative
    });
    if path.is_dir() {
        path = path.join("index.html");
    }
    match std::fs::read(&path) {
        Ok(bytes) => reply(&mut stream, 200, mime(&path), &bytes, head_only),
        Err(_) => reply(&mut stream, 404, "text/plain", b"not found", head_only),
    }
}

/// The request's method and target, once its head has come; `None` for one that is not HTTP.
fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<(String, String)>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {
                let method = request.method.unwrap_or_default().to_string();
                let target = request.path.unwrap_or("/").to_string();
                return Ok(Some((method, target)));
            }
            Ok(httparse::Status::Partial) if head.len() < MAX_HEAD => continue,
            _ => return Ok(None),
        }
    }
}

/// Every file is public and may be embedded anywhere: a page on another origin imports the
/// element's module, and the module fetches its wasm and sheets, with CORS.
fn reply(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nContent-Security-Policy: {CSP}\r\n\
         Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Write)
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("csv") => "text/csv; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}
