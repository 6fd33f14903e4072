//! `robotid status`: the standing of robots or certificates, for customs
//! and distributors. Exit 0 when every ID is good, 1 when any is not.

use robotid_verifier::text::terminal;
use robotid_wire::status::{BulkRequest, BulkResponse};

use crate::cli::Status;
use crate::client::Client;
use crate::error::CliError;

/// Most IDs the server takes in one request; longer lists are sent in parts.
const PER_REQUEST: usize = 100_000;

fn ids(args: &Status) -> Result<Vec<String>, CliError> {
    let Some(path) = &args.file else {
        return Ok(args.ids.clone());
    };
    let text = robotid_verifier::input::FileKind::IdList
        .read_to_string(path)
        .map_err(|e| CliError::Input(e.to_string()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// Asks the server about every ID and prints the answers.
pub fn run(args: &Status) -> Result<(), CliError> {
    let ids = ids(args)?;
    if ids.is_empty() {
        return Err(CliError::Input("no IDs given".into()));
    }
    let client = if args.server.starts_with("https://") {
        let dir = args.credentials.clone().ok_or_else(|| {
            CliError::Input("--credentials DIR is required for an https:// server".into())
        })?;
        Client::new(&args.server, &dir)?
    } else {
        Client::public(&args.server)?
    };
    let path = if client.is_api() {
        "/api/v1/status"
    } else {
        "/status"
    };
    let mut results = Vec::with_capacity(ids.len());
    for part in ids.chunks(PER_REQUEST) {
        let answer: BulkResponse = client.post_json(path, &BulkRequest { ids: part.to_vec() })?;
        if answer.results.len() != part.len() {
            return Err(CliError::Refused(format!(
                "the server answered {} of {} IDs",
                answer.results.len(),
                part.len()
            )));
        }
        results.extend(answer.results);
    }
    let all_good = results.iter().all(|r| r.status == "good");
    if args.json {
        let text = serde_json::to_string_pretty(&BulkResponse { results })
            .map_err(|e| CliError::Refused(e.to_string()))?;
        println!("{text}");
    } else {
        for r in &results {
            let mut line = format!("{}  {}", r.id, r.status);
            if let Some(reason) = &r.reason {
                line.push_str(&format!("  {reason}"));
            }
            if let Some(at) = &r.revoked_at {
                line.push_str(&format!(" since {at}"));
            }
            if let Some(serial) = &r.serial {
                line.push_str(&format!("  serial {serial}"));
            }
            if let Some(error) = &r.error {
                line.push_str(&format!("  ({error})"));
            }
            // Every part of the line is the server's, or the shipment
            // file's: escaped for the terminal.
            println!("{}", terminal(&line));
        }
        let good = results.iter().filter(|r| r.status == "good").count();
        eprintln!("{good} of {} good", results.len());
    }
    if all_good {
        Ok(())
    } else {
        Err(CliError::Refused("not every ID is good (see above)".into()))
    }
}
