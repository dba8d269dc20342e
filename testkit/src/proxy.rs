//! A TCP proxy in front of the test database that a test can cut, to stand for a database
//! that goes away for a while (a restart, a failover, a pulled cable): while cut, every
//! connection through it is closed and new ones are closed as soon as they arrive.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A proxy to the test database.
pub struct Proxy {
    /// The database's URL through the proxy.
    pub url: String,
    down: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<AbortHandle>>>,
    _thread: std::thread::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to the database at `url` (TCP or a Unix socket folder).
    ///
    /// # Panics
    /// When `url` is not a PostgreSQL URL or no local port can be bound.
    pub fn start(url: &str) -> Self {
        let target: PgConnectOptions = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let port = listener.local_addr().expect("its address").port();
        let through = target.clone().host("127.0.0.1").port(port).to_url_lossy().to_string();
        let (host, db_port) = (target.get_host().to_string(), target.get_port());
        let (down, open) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let (d, o) = (Arc::clone(&down), Arc::clone(&open));
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            rt.block_on(serve(listener, host, db_port, d, o));
        });
        Self { url: through, down, open, _thread: thread }
    }

    /// Closes every connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        if let Ok(mut open) = self.open.lock() {
            for conn in open.drain(..) {
                conn.abort();
            }
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

async fn serve(
    listener: std::net::TcpListener,
    host: String,
    port: u16,
    down: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<AbortHandle>>>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else { return };
    while let Ok((mut client, _)) = listener.accept().await {
        if down.load(Ordering::SeqCst) {
            continue;
        }
        let host = host.clone();
        let task = tokio::spawn(async move {
            if host.starts_with('/') {
                let path = format!("{host}/.s.PGSQL.{port}");
                if let Ok(mut server) = tokio::net::UnixStream::connect(path).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            } else if let Ok(mut server) = TcpStream::connect((host.as_str(), port)).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
        if let Ok(mut open) = open.lock() {
            open.retain(|t| !t.is_finished());
            open.push(task.abort_handle());
        }
    }
}
