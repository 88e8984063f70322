//! A real local model: llama.cpp's OpenAI-compatible server (llama-cpp-python) serving SmolLM2-135M
//! with an 8,192-token window, and `openbolt chat` on a generated repository of 2,000 files. The model's
//! skill is not under test (a 135M model does not follow the markup); the wire and the context budget
//! are: a turn completes within the window, and a window set too large is explained, not silent.
//! `scripts/local-model-deps` installs the server and the model (`scripts/test` runs it).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::repository;

const WINDOW: u32 = 8_192;

fn required(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/local-model-deps` (scripts/test runs it)",
        path.display()
    );
    path
}

/// The model server; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

async fn start_server() -> Server {
    let root = repository();
    let python = required(root.join(".venv-llama/bin/python"));
    let model = required(root.join(".models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    let port = free_port();
    let child = Command::new(python)
        .args(["-m", "llama_cpp.server", "--model"])
        .arg(model)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--n_ctx", &WINDOW.to_string(), "--model_alias", "smollm2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the model server starts");
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}/v1"),
    };
    // Ready when it answers: polled, with a deadline (loading a model takes a few seconds).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if http_get(port, "/v1/models").await.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the model server did not answer within 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server
}

/// A bare HTTP GET (the test needs no HTTP client crate): the body when the status is 200.
async fn http_get(port: u16, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    response
        .starts_with("HTTP/1.1 200")
        .then(|| response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned())
}

/// A repository of 2,000 JavaScript and Python files that call each other (~6 MB).
fn generate(root: &Path) {
    for index in 0..2_000usize {
        let (name, text) = if index % 2 == 0 {
            (
                format!("src/part{:02}/module{index}.js", index % 40),
                (0..8)
                    .map(|n| {
                        format!(
                            "export function step{index}_{n}(value) {{\n  // Applies step {n} of module {index}.\n  return step{}_{}(value) + {n};\n}}\n\n",
                            (index * 7 + n) % 2_000,
                            n
                        )
                    })
                    .collect::<String>(),
            )
        } else {
            (
                format!("lib/part{:02}/module{index}.py", index % 40),
                (0..8)
                    .map(|n| {
                        format!(
                            "def step{index}_{n}(value):\n    \"\"\"Applies step {n} of module {index}.\"\"\"\n    return step{}_{}(value) + {n}\n\n\n",
                            (index * 7 + n) % 2_000,
                            n
                        )
                    })
                    .collect::<String>(),
            )
        };
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
}

async fn chat(server: &Server, workspace: &Path, data: &Path, extra: &[&str]) -> (bool, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_openbolt"))
            .arg("chat")
            .arg("--workspace")
            .arg(workspace)
            .args(["--provider", "llamacpp", "--base-url", &server.url])
            .args(["--model", "smollm2", "--max-tokens", "200"])
            .args(extra)
            .arg("Explain what step10_3 does, in one sentence.")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", workspace)
            .env("OPENBOLT_DATA_DIR", data)
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("the turn ends within 5 minutes")
    .expect("openbolt runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_on_a_big_repository_fits_a_small_local_model() {
    let server = start_server().await;
    let directory = tempfile::tempdir().expect("temp dir");
    let workspace = directory.path().join("project");
    let data = directory.path().join("data");
    generate(&workspace);

    // The window is not set: the server is asked, then the default for unknown local models holds.
    let (success, text) = chat(&server, &workspace, &data, &[]).await;
    assert!(success, "the turn completes within the window:\n{text}");
    assert!(
        !text.contains("no reply") && !text.contains("cut off") && !text.contains("failed"),
        "{text}"
    );

    // Told the window is far larger than it is, OpenBolt overfills it: the server answers with an
    // empty stream, and the user reads why.
    let (success, text) = chat(&server, &workspace, &data, &["--context-tokens", "200000"]).await;
    assert!(!success, "{text}");
    assert!(
        text.contains("refused the prompt as too long") || text.contains("the model sent no reply"),
        "{text}"
    );
    assert!(text.contains("contextTokens"), "{text}");
}
