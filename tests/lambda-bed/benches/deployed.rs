//! The chaos run's load without its faults, as a benchmark: Herald's real binaries on the bed
//! deliver a broadcast, a recipient-local schedule and a routed event to 3,000 people over 3
//! tenants, and the sends Teams accepted per second are stated as a share of the emulator's
//! enforced ceiling (its tenant rate times the tenants), and the busiest tenant's (the route's,
//! with 3,000 of the 7,000 sends) as a share of its tenant rate. Needs DynamoDB Local:
//! `.ci/with-services cargo bench -p herald-lambda-bed --bench deployed`.

use herald_lambda_bed::scenario::{ScenarioConfig, run};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let config = ScenarioConfig::standard();
    let report = match run(&config).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("the deployed benchmark could not run: {e}");
            std::process::exit(1);
        }
    };
    println!("deployed run: {report}");
    let problems = report.problems();
    if !problems.is_empty() {
        eprintln!("the run did not end as it must: {problems:#?}");
        std::process::exit(1);
    }
    println!(
        "throughput: {:.1} sends/s, {:.0}% of the emulator's {:.0}/s ceiling; the busiest tenant \
         {:.1} sends/s, {:.0}% of its {:.0}/s",
        report.throughput(),
        report.share_of_ceiling(),
        report.ceiling,
        report.busiest_tenant.rate(),
        report.busiest_tenant_share(),
        report.tenant_rate,
    );
}
