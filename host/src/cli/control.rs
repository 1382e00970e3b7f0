//! `berth listeners` and `berth status`: the command line over the admin API of a running
//! berth, so that operators script what they would click in the console.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::admin::token;
use crate::deploy::deployment_dir;
use crate::settings;
use crate::topology::ListenerView;

/// What to ask of the listeners.
pub enum Action {
    List,
    Control {
        action: String,
        name: Option<String>,
    },
    Status,
}

pub fn run(dir: &Path, action: Action) -> anyhow::Result<ExitCode> {
    let (method, path) = match &action {
        Action::List => (reqwest::Method::GET, "/api/listeners".to_string()),
        Action::Status => (reqwest::Method::GET, "/api/status".to_string()),
        Action::Control {
            action,
            name: Some(name),
        } => (
            reqwest::Method::POST,
            format!("/api/listeners/{name}/{action}"),
        ),
        Action::Control { action, name: None } => {
            (reqwest::Method::POST, format!("/api/listeners/{action}"))
        }
    };
    let body = call(dir, method, &path)?;
    let text = match action {
        Action::Status => serde_json::to_string_pretty(&body)? + "\n",
        Action::Control { name: Some(_), .. } => {
            table(&[serde_json::from_value::<ListenerView>(body)?])
        }
        _ => table(&serde_json::from_value::<Vec<ListenerView>>(body)?),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// One call of the admin API of the berth running the deployment in `dir`: its JSON answer,
/// or the API's error message.
pub fn call(dir: &Path, method: reqwest::Method, path: &str) -> anyhow::Result<serde_json::Value> {
    let dir = deployment_dir(dir)?;
    let settings = settings::load(&dir).map_err(|d| anyhow::anyhow!("{d}"))?;
    let base = format!("http://{}:{}", settings.admin.address, settings.admin.port);
    let token = token::read(&dir.join(&settings.store.data_dir))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .context("cannot build an HTTP client")?;
        let response = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .with_context(|| {
                format!("berth's admin API does not answer at {base}: is berth running?")
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .context("the admin API's answer was cut off")?;
        let body: serde_json::Value =
            serde_json::from_slice(&bytes).context("the admin API answered garbage")?;
        if !status.is_success() {
            let message = body["error"].as_str().unwrap_or("refused");
            anyhow::bail!("{message}");
        }
        Ok(body)
    })
}

fn table(listeners: &[ListenerView]) -> String {
    let mut out = format!(
        "{:<24} {:<20} {:<40} {:<10} {:>9} {:>6}  {}\n",
        "PROCESS", "CONNECTOR", "URL", "STATE", "DOCUMENTS", "ERRORS", "LAST ERROR"
    );
    for l in listeners {
        let problem = l
            .error
            .as_ref()
            .map(|e| format!("{e} (since {})", l.error_at.as_deref().unwrap_or("?")))
            .or_else(|| l.last_error.clone())
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<24} {:<20} {:<40} {:<10} {:>9} {:>6}  {}\n",
            l.name,
            l.connector,
            l.urls.first().map(String::as_str).unwrap_or("-"),
            l.state,
            l.documents,
            l.errors,
            problem
        ));
        // Every URL a partner may use, one per line under the first.
        for url in l.urls.iter().skip(1) {
            out.push_str(&format!("{:<24} {:<20} {url}\n", "", ""));
        }
    }
    out
}
