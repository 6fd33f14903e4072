//! `robotid submit`: send a robot's CSR, or a production line's folder of
//! CSRs, to the CA and write the certificates with their chain.

use std::path::{Path, PathBuf};

use robotid_wire::enroll::{BatchRequest, BatchResponse, CertificateResponse};

use robotid_verifier::text::terminal;

use crate::cli::Submit;
use crate::client::{Client, describe};
use crate::error::CliError;
use crate::output::write_file;

pub fn run(args: &Submit) -> Result<(), CliError> {
    let client = Client::new(&args.server.server, &args.server.credentials()?)?;
    match (&args.csr, &args.out, &args.batch, &args.out_dir) {
        (Some(csr), Some(out), None, None) => single(&client, csr, out, args.reissue),
        (None, None, Some(dir), Some(out_dir)) => {
            batch(&client, dir, out_dir, args.reissue, args.chunk)
        }
        _ => Err(CliError::Input(
            "give either --csr FILE --out FILE, or --batch DIR --out-dir DIR".into(),
        )),
    }
}

fn single(client: &Client, csr: &Path, out: &Path, reissue: bool) -> Result<(), CliError> {
    let bytes =
        std::fs::read(csr).map_err(|e| CliError::Input(format!("{}: {e}", csr.display())))?;
    let path = if reissue {
        "/api/v1/enroll?reissue=true"
    } else {
        "/api/v1/enroll"
    };
    let cert: CertificateResponse = client.post_csr(path, bytes)?;
    write_file(
        out,
        format!("{}{}", cert.certificate_pem, cert.chain_pem).as_bytes(),
        true,
    )?;
    println!(
        "{}",
        terminal(&format!(
            "{} {}: serial {} written to {}",
            cert.robot_id,
            cert.status,
            cert.serial,
            out.display()
        ))
    );
    Ok(())
}

fn csr_files(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| CliError::Input(format!("{}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csr"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CliError::Input(format!(
            "{}: no *.csr files",
            dir.display()
        )));
    }
    Ok(files)
}

fn batch(
    client: &Client,
    dir: &Path,
    out_dir: &Path,
    reissue: bool,
    chunk: usize,
) -> Result<(), CliError> {
    let files = csr_files(dir)?;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| CliError::Input(format!("{}: {e}", out_dir.display())))?;
    let bar = indicatif::ProgressBar::new(u64::try_from(files.len()).unwrap_or(u64::MAX));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} CSRs {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut issued, mut existing, mut refused) = (0usize, 0usize, 0usize);
    for group in files.chunks(chunk.clamp(1, 10_000)) {
        let csrs = group
            .iter()
            .map(|p| {
                std::fs::read_to_string(p)
                    .map_err(|e| CliError::Input(format!("{}: {e}", p.display())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let body = BatchRequest { csrs, reissue };
        let response: BatchResponse = client.post_json("/api/v1/enroll/batch", &body)?;
        for item in response.results {
            let source = group.get(item.index).ok_or_else(|| {
                CliError::Refused("the server answered for a CSR it was not sent".into())
            })?;
            let stem = source
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match (item.certificate, item.problem) {
                (Some(certificate), _) => {
                    if certificate.status == "existing" {
                        existing += 1;
                    } else {
                        issued += 1;
                    }
                    let out = out_dir.join(format!("{stem}.pem"));
                    write_file(
                        &out,
                        format!("{}{}", certificate.certificate_pem, response.chain_pem).as_bytes(),
                        true,
                    )?;
                }
                (None, Some(problem)) => {
                    refused += 1;
                    bar.suspend(|| {
                        eprintln!(
                            "{}",
                            terminal(&format!("{}: {}", source.display(), describe(&problem)))
                        )
                    });
                }
                (None, None) => {
                    return Err(CliError::Refused(format!(
                        "{}: the server gave no result",
                        source.display()
                    )));
                }
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    println!(
        "{} CSRs: {issued} issued, {existing} already issued (same certificate), {refused} refused; certificates in {}",
        files.len(),
        out_dir.display()
    );
    if refused > 0 {
        return Err(CliError::Refused(format!(
            "{refused} of {} CSRs were refused",
            files.len()
        )));
    }
    Ok(())
}
