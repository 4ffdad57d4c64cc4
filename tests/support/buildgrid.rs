//! BuildGrid 0.4.4 (scripts/setup.sh puts it in a venv) as the REAPI server of the remote-cache
//! tests and bench: started on a free loopback port with disk storage, stopped by its PID.
//! Shared by tests/it and benches/pipeline (`#[path]` modules).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The BuildGrid server's `bgd`: `$AOTLINK_BUILDGRID_VENV/bin/bgd`, else where setup.sh puts it.
pub fn bgd() -> PathBuf {
    let venv = std::env::var_os("AOTLINK_BUILDGRID_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME");
            PathBuf::from(home).join(".local/share/aotlink-test/buildgrid-0.4.4")
        });
    let bgd = venv.join("bin/bgd");
    assert!(
        bgd.exists(),
        "{} is missing: scripts/setup.sh --cross installs BuildGrid (or set AOTLINK_BUILDGRID_VENV)",
        bgd.display()
    );
    bgd
}

/// A running BuildGrid serving CAS, ByteStream and the action cache for the empty instance.
pub struct BuildGrid {
    child: Child,
    port: u16,
    /// Where the server keeps blobs (`cas/objects/ab/cdef...`).
    pub storage: PathBuf,
}

impl BuildGrid {
    /// Starts a server with its config, log and storage in `dir`; waits until it listens.
    pub fn start(dir: &Path) -> BuildGrid {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let storage = dir.join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let config = dir.join("cas-ac.yml");
        std::fs::write(
            &config,
            format!(
                r#"server:
  - !channel
    address: "127.0.0.1:{port}"
    insecure-mode: true
authorization:
  method: none
storages:
  - !disk-storage &main-storage
    path: "{}"
caches:
  - !lru-action-cache &main-action
    storage: *main-storage
    max-cached-refs: 4096
    allow-updates: true
    cache-failed-actions: true
instances:
  - name: ""
    services:
      - !action-cache
        cache: *main-action
      - !cas
        storage: *main-storage
      - !bytestream
        storage: *main-storage
thread-pool-size: 8
"#,
                storage.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("bgd.log")).unwrap();
        let child = Command::new(bgd())
            .args(["server", "start"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = BuildGrid {
            child,
            port,
            storage,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "bgd exited ({status}): {}",
                    std::fs::read_to_string(dir.join("bgd.log")).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "BuildGrid did not listen on {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("grpc://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BuildGrid {
    fn drop(&mut self) {
        self.stop();
    }
}
