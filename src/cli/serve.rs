//! `switchyard serve`: the flags to server options, the key command, and the signals.

use anyhow::{Context, Result};
use switchyard_server::{BillingOptions, Role, Server, ServerOptions, WebhookSecrets};
use switchyard_session::settings::Config;
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::args::ServeArgs;

pub fn serve(args: ServeArgs, settings: Config) -> Result<Exit> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async {
        if let Some(tenant) = &args.create_key {
            let role: Role = match args.role.parse() {
                Ok(role) => role,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(Exit::Invalid);
                }
            };
            let token = switchyard_server::create_key(&args.data, args.database.as_deref(), tenant, role).await?;
            eprintln!("a new {role} key for {tenant}; it is shown this once:");
            println!("{token}");
            return Ok(Exit::Ok);
        }
        let billing = match billing_options(&args) {
            Ok(billing) => billing,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(Exit::Invalid);
            }
        };
        let opts = ServerOptions {
            listen: args.listen,
            data: args.data.clone(),
            database: args.database.clone(),
            workers: args.workers,
            grace_ms: args.grace_ms,
            rate_per_s: args.rate_limit,
            metrics_listen: args.metrics_listen,
            catalog: args.catalog.clone(),
            farm: args.farm,
            artifacts: args.artifacts.clone(),
            comfy_frontend: args.comfy_frontend.clone(),
            comfy_templates: args.comfy_templates.clone(),
            settings,
            billing,
        };
        let server = Server::bind(opts).await?;
        // Scripts and tests read the address from this line.
        println!("listening on http://{}", server.local_addr()?);
        if let Some(addr) = server.metrics_addr() {
            println!("metrics on http://{addr}/metrics");
        }
        let shutdown = CancellationToken::new();
        watch_signals(shutdown.clone());
        server.run(shutdown).await?;
        Ok(Exit::Ok)
    })
}

/// The webhook secrets (from the file, else the environment), tolerance and grace period.
fn billing_options(args: &ServeArgs) -> Result<BillingOptions, String> {
    let text = match &args.stripe_webhook_secrets {
        Some(file) => {
            std::fs::read_to_string(file).map_err(|e| format!("--stripe-webhook-secrets {}: {e}", file.display()))?
        }
        None => std::env::var("SWITCHYARD_STRIPE_WEBHOOK_SECRET").unwrap_or_default().replace(',', "\n"),
    };
    let secrets: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
    if !(1..=86_400).contains(&args.webhook_tolerance_s) {
        return Err(format!("--webhook-tolerance-s must be from 1 to 86400, not {}", args.webhook_tolerance_s));
    }
    if !(0.0..=90.0).contains(&args.dunning_grace_days) {
        return Err(format!("--dunning-grace-days must be from 0 to 90, not {}", args.dunning_grace_days));
    }
    let grace_ms = (args.dunning_grace_days * 86_400_000.0).round() as i64;
    let fraud = match &args.fraud_rules {
        None => Default::default(),
        Some(file) => {
            let text = std::fs::read_to_string(file).map_err(|e| format!("--fraud-rules {}: {e}", file.display()))?;
            toml::from_str(&text).map_err(|e| format!("--fraud-rules {}: {e}", file.display()))?
        }
    };
    Ok(BillingOptions {
        stripe_secrets: WebhookSecrets(secrets),
        tolerance_s: args.webhook_tolerance_s,
        dunning: switchyard_session::credits::Dunning { grace_ms },
        fraud,
        alerts_interval_ms: args.alerts_interval_ms,
        alert_private_urls: args.alert_webhooks_private,
        usage_inbox: args.usage_inbox.clone(),
        reconcile_interval_s: args.reconcile_interval_s,
    })
}

/// SIGINT or SIGTERM begins a graceful shutdown.
fn watch_signals(shutdown: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
                return;
            };
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("stopping: no new work; running runs get their grace period, then go back to the queue");
        shutdown.cancel();
    });
}
