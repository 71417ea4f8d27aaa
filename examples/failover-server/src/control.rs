//! The local control socket (`dhcpv6-failover-server ctl ...`): one JSON request per line on a
//! Unix socket, one answer (JSON or text) back. The event loop answers, so every answer is a
//! consistent snapshot of the server.

use std::path::{Path, PathBuf};

use dhcpv6_failover::{Binding, BindingStatus, Resource, UnixTime};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use crate::dhcp::Engine;
use crate::partner::Failover;

/// A request on the control socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// `status`, `partner-down` or `leases`.
    pub cmd: String,
    /// Relationship name (needed with several relationships).
    #[serde(default)]
    pub relationship: Option<String>,
    /// `partner-down --since`: seconds since 1970 UTC.
    #[serde(default)]
    pub since: Option<u64>,
    /// Answer in JSON.
    #[serde(default)]
    pub json: bool,
}

/// A request waiting for the event loop.
#[derive(Debug)]
pub struct Pending {
    /// The request.
    pub request: Request,
    /// Where the answer goes.
    pub reply: oneshot::Sender<String>,
}

/// Listens on `path` (replacing a stale socket file) and forwards requests to the event loop.
///
/// The listener and its connections run on `rt`, not on the event loop's own runtime: a busy
/// event loop polls its reactor seldom, and under load a `ctl status` then waited for seconds
/// (4.5 s at 6,000 leases/s) before the request even reached it. From `rt` the request reaches
/// the loop's channel at once, and the loop answers it before any client datagram.
pub fn spawn(path: &Path, rt: &tokio::runtime::Handle) -> std::io::Result<mpsc::Receiver<Pending>> {
    let _ = std::fs::remove_file(path);
    let listener = {
        // Registered with `rt`'s reactor.
        let _in_rt = rt.enter();
        UnixListener::bind(path)?
    };
    let (tx, rx) = mpsc::channel(16);
    rt.spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                continue;
            };
            let tx = tx.clone();
            // On `rt`, like the listener (`tokio::spawn` uses the runtime of the task it is in).
            tokio::spawn(async move {
                let (rd, mut wr) = s.into_split();
                let mut line = String::new();
                let mut rd = BufReader::new(rd);
                if rd.read_line(&mut line).await.is_err() {
                    return;
                }
                let answer = match serde_json::from_str::<Request>(&line) {
                    Ok(request) => {
                        let (otx, orx) = oneshot::channel();
                        if tx
                            .send(Pending {
                                request,
                                reply: otx,
                            })
                            .await
                            .is_err()
                        {
                            return;
                        }
                        orx.await
                            .unwrap_or_else(|_| "error: server stopping\n".into())
                    }
                    Err(e) => format!("error: bad request: {e}\n"),
                };
                let _ = wr.write_all(answer.as_bytes()).await;
                let _ = wr.shutdown().await;
            });
        }
    });
    Ok(rx)
}

/// One lease as shown by `ctl leases`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseView {
    /// Address or prefix (`addr/len`).
    pub resource: String,
    /// Binding status.
    pub status: String,
    /// Client DUID (hex) and IAID.
    pub client: Option<(String, u32)>,
    /// Expiry (seconds since 1970), if any.
    pub expires: Option<u64>,
}

fn resource_text(r: &Resource) -> String {
    match r {
        Resource::Address(a) => a.to_string(),
        Resource::Prefix { prefix, len } => format!("{prefix}/{len}"),
    }
}

fn lease_view(b: &Binding) -> LeaseView {
    LeaseView {
        resource: resource_text(&b.resource),
        status: format!("{:?}", b.status),
        client: b.client.as_ref().map(|c| (hex::encode(&c.duid), c.iaid)),
        expires: b.state_expiration_time.map(UnixTime::as_secs),
    }
}

/// The answer to a request.
pub fn answer(req: &Request, failover: &mut Failover, engine: &Engine) -> String {
    match req.cmd.as_str() {
        "status" => {
            let rels: Vec<serde_json::Value> = failover
                .status()
                .into_iter()
                .map(|(s, c, peer, last)| {
                    serde_json::json!({
                        "relationship": s.relationship_name,
                        "role": format!("{:?}", s.role),
                        "state": format!("{:?}", s.state),
                        "state_since": s.state_since.as_secs(),
                        "partner_state": s.partner_state.map(|p| format!("{p:?}")),
                        "partner_state_since": s.partner_state_since.map(UnixTime::as_secs),
                        "communications_ok": s.communications_ok,
                        "connected_to": peer.map(|p| p.to_string()),
                        "mclt_secs": s.mclt.as_secs(),
                        "partner_down_since": s.partner_down_since.map(UnixTime::as_secs),
                        "pending_updates": s.pending_updates,
                        "unacked_updates": s.unacked_updates,
                        "conflicts": s.conflicts,
                        "rejected_updates": s.rejected_updates,
                        "last_contact_secs_ago": last,
                        "skew_secs": s.measured_skew_secs,
                        "bindings": s.bindings,
                        "pending_storage_writes": s.pending_storage_writes,
                        "counters": c,
                    })
                })
                .collect();
            let active = engine.leases().active();
            if req.json {
                format!(
                    "{}\n",
                    serde_json::json!({ "active_leases": active, "relationships": rels })
                )
            } else {
                let mut out = format!("active leases: {active}\n");
                for r in rels {
                    out.push_str(&format!(
                        "relationship {}: {} {} since {}, partner {} (comms {}), MCLT {} s, pending updates {}, unacked {}, conflicts {}, rejected {}, last contact {}\n",
                        r["relationship"].as_str().unwrap_or("?"),
                        r["role"].as_str().unwrap_or("?"),
                        r["state"].as_str().unwrap_or("?"),
                        r["state_since"],
                        r["partner_state"].as_str().unwrap_or("unknown"),
                        if r["communications_ok"].as_bool() == Some(true) { "ok" } else { "interrupted" },
                        r["mclt_secs"],
                        r["pending_updates"],
                        r["unacked_updates"],
                        r["conflicts"],
                        r["rejected_updates"],
                        r["last_contact_secs_ago"].as_f64().map_or_else(|| "never".to_string(), |s| format!("{s:.1} s ago")),
                    ));
                }
                out
            }
        }
        "partner-down" => {
            match failover.partner_down(
                req.relationship.as_deref(),
                req.since.map(UnixTime::from_secs),
            ) {
                Ok(s) if req.json => format!("{}\n", serde_json::json!({ "ok": true, "state": s })),
                Ok(s) => format!("ok: {s}\n"),
                Err(e) if req.json => {
                    format!("{}\n", serde_json::json!({ "ok": false, "error": e }))
                }
                Err(e) => format!("error: {e}\n"),
            }
        }
        "leases" => {
            let mut v: Vec<LeaseView> = engine
                .leases()
                .iter()
                .filter(|b| b.status == BindingStatus::Active)
                .map(lease_view)
                .collect();
            v.sort_by(|a, b| a.resource.cmp(&b.resource));
            if req.json {
                format!("{}\n", serde_json::to_string(&v).unwrap_or_default())
            } else {
                let mut out = String::new();
                for l in &v {
                    let (duid, iaid) = l.client.clone().unwrap_or_default();
                    out.push_str(&format!(
                        "{} {} duid {} iaid {} expires {}\n",
                        l.resource,
                        l.status,
                        duid,
                        iaid,
                        l.expires.unwrap_or(0)
                    ));
                }
                out.push_str(&format!("{} active\n", v.len()));
                out
            }
        }
        other => format!("error: unknown command `{other}` (status, partner-down, leases)\n"),
    }
}

/// Client side: sends one request and returns the answer.
pub async fn request(path: &PathBuf, req: &Request) -> std::io::Result<String> {
    let mut s = UnixStream::connect(path).await?;
    let mut line = serde_json::to_string(req).map_err(std::io::Error::other)?;
    line.push('\n');
    s.write_all(line.as_bytes()).await?;
    let mut out = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut s, &mut out).await?;
    Ok(out)
}
