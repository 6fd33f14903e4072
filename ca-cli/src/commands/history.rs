//! `robotid history record | show | export`: a robot's lifecycle history.

use robotid_verifier::input::FileKind;
use std::path::Path;

use robotid_wire::lifecycle::{HistoryView, RecordRequest, Recorded};
use serde_json::{Map, Value, json};

use crate::cli::{HistoryExport, HistoryRecord, HistoryShow};
use crate::client::Client;
use crate::error::CliError;

fn client(server: &crate::cli::ServerArgs) -> Result<Client, CliError> {
    Client::new(&server.server, &server.credentials()?)
}

/// The robot ID as a path segment: only the characters robot IDs are made
/// of, so nothing typed can change the request's path.
fn robot_path(robot_id: &str) -> Result<String, CliError> {
    if robot_id.is_empty()
        || robot_id.len() > 64
        || !robot_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(CliError::Input(format!(
            "robot ID {robot_id:?}: letters, digits and '-' only (e.g. UBX-WK5-00001234-I)"
        )));
    }
    Ok(format!("/api/v1/robots/{robot_id}/history"))
}

fn details(args: &HistoryRecord) -> Result<Value, CliError> {
    let mut map = Map::new();
    for pair in &args.details {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| CliError::Input(format!("--detail {pair:?}: write KEY=VALUE")))?;
        if map
            .insert(key.to_owned(), Value::String(value.to_owned()))
            .is_some()
        {
            return Err(CliError::Input(format!("--detail {key} given twice")));
        }
    }
    if let Some(path) = &args.csr {
        let csr = FileKind::Csr
            .read_to_string(path)
            .map_err(|e| CliError::Input(e.to_string()))?;
        map.insert("csr".into(), Value::String(csr));
    }
    if !args.components.is_empty() {
        let mut list = Vec::with_capacity(args.components.len());
        for c in &args.components {
            let parsed = c
                .split_once('=')
                .and_then(|(id, disposition)| {
                    id.split_once(':')
                        .map(|(kind, serial)| (kind, serial, disposition))
                })
                .ok_or_else(|| {
                    CliError::Input(format!("--component {c:?}: write KIND:SERIAL=DISPOSITION"))
                })?;
            list.push(json!({ "kind": parsed.0, "serial": parsed.1, "disposition": parsed.2 }));
        }
        map.insert("components".into(), Value::Array(list));
    }
    Ok(Value::Object(map))
}

fn write_new(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| CliError::Input(format!("{}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| CliError::Input(format!("{}: {e}", path.display())))
}

/// A re-issued certificate is checked as `robotid submit` checks its
/// answers before it is written: it chains to the CA in the credentials
/// folder's `ca.pem`, and carries the replacement CSR's key and robot ID.
fn check_reissued(args: &HistoryRecord, cert: &str, chain: &str) -> Result<(), CliError> {
    let Some(csr_path) = &args.csr else {
        return Err(CliError::Refused(
            "the server re-issued a certificate without a CSR being sent; nothing written".into(),
        ));
    };
    let bytes = FileKind::Csr
        .read(csr_path)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let csr = robotid_issuer::csr::decode_pem_or_der(&bytes)
        .and_then(|der| robotid_issuer::csr::verify(&der))
        .map_err(|e| CliError::Input(format!("{}: {e}", csr_path.display())))?;
    let anchors = robotid_verifier::input::read_certificates(
        &args
            .server
            .credentials()?
            .join(crate::client::TRUST_ANCHORS),
    )
    .map_err(|e| CliError::Input(e.to_string()))?;
    super::submit::check_answer(&csr, cert, chain, &anchors).map_err(|e| {
        CliError::Refused(format!(
            "the re-issued certificate is not the one asked for: {e}; nothing written"
        ))
    })
}

/// `robotid history record ROBOT_ID TYPE ...`
pub fn record(args: &HistoryRecord) -> Result<(), CliError> {
    let path = robot_path(&args.robot_id)?;
    if let Some(out) = &args.out
        && out.exists()
    {
        return Err(CliError::Input(format!(
            "{}: exists; choose a new file for the re-issued certificate",
            out.display()
        )));
    }
    let body = RecordRequest {
        kind: args.kind.clone(),
        details: details(args)?,
    };
    let answer: Recorded = client(&args.server)?.post_json(&path, &body)?;
    if let (Some(out), Some(cert)) = (&args.out, &answer.certificate_pem) {
        let chain = answer.chain_pem.clone().unwrap_or_default();
        check_reissued(args, cert, &chain)?;
        write_new(out, &format!("{cert}{chain}"))?;
    }
    if args.json {
        let text =
            serde_json::to_string_pretty(&answer).map_err(|e| CliError::Refused(e.to_string()))?;
        println!("{text}");
    } else {
        println!(
            "{}",
            printable(&format!(
                "{}: event {} ({}) recorded; now {}",
                answer.robot_id, answer.event.seq, answer.event.kind, answer.state
            ))
        );
        if let Some(out) = &args.out {
            println!("re-issued certificate written to {}", out.display());
        }
    }
    Ok(())
}

/// The details of an event on one line, keys in order.
fn summary(details: &Value) -> String {
    let Value::Object(map) = details else {
        return details.to_string();
    };
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            Value::Array(items) if k == "components" || k == "replaced" => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|c| {
                        let field = |name: &str| c.get(name).and_then(Value::as_str).unwrap_or("");
                        match c.get("disposition").and_then(Value::as_str) {
                            Some(d) => format!("{} {} -> {d}", field("kind"), field("serial")),
                            None => format!("{} {}", field("kind"), field("serial")),
                        }
                    })
                    .collect();
                format!("{k}=[{}]", parts.join(", "))
            }
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join("  ")
}

/// Escapes what the text policy refuses and cuts long text, so nothing
/// recorded can drive, reorder or flood the terminal.
fn printable(text: &str) -> String {
    robotid_verifier::report::printable(text).to_string()
}

/// `robotid history show ROBOT_ID [--json]`
pub fn show(args: &HistoryShow) -> Result<(), CliError> {
    let path = robot_path(&args.robot_id)?;
    let history: HistoryView = client(&args.server)?.get_json(&path)?;
    if args.json {
        let text =
            serde_json::to_string_pretty(&history).map_err(|e| CliError::Refused(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    println!(
        "{}",
        printable(&format!(
            "{}  {} events  now {}",
            history.robot_id,
            history.events.len(),
            history.state
        ))
    );
    for e in &history.events {
        println!(
            "{}",
            printable(&format!(
                "{:>5}  {}  {:18}  {}",
                e.seq,
                e.at,
                e.kind,
                summary(&e.details)
            ))
        );
        println!("{:>5}  {:20}  by {}", "", "", printable(&e.actor));
    }
    Ok(())
}

/// `robotid history export ROBOT_ID --out FILE`
pub fn export(args: &HistoryExport) -> Result<(), CliError> {
    let path = format!("{}/export", robot_path(&args.robot_id)?);
    let bundle: Value = client(&args.server)?.get_json(&path)?;
    let text =
        serde_json::to_string_pretty(&bundle).map_err(|e| CliError::Refused(e.to_string()))?;
    write_new(&args.out, &format!("{text}\n"))?;
    let events = bundle
        .get("events")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    println!(
        "{}: {events} events exported to {}; check with `robotid-verify history {} --trust root-ca.pem`",
        args.robot_id,
        args.out.display(),
        args.out.display()
    );
    Ok(())
}
