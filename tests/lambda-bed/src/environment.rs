//! The environment Lambda gives a function's process
//! (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html>, "Defined runtime
//! environment variables"), with the template's `Environment.Variables` over it. The secret is
//! not read: `HERALD_SECRET_ARN` is left out and the test passes its keys as variables instead.

use std::collections::BTreeMap;
use std::path::Path;

use crate::template::FunctionSpec;

/// Lambda's reserved variables and the function's own, for `spec` in `region`.
#[must_use]
pub fn lambda_environment(
    spec: &FunctionSpec,
    region: &str,
    task_root: &Path,
) -> BTreeMap<String, String> {
    let name = &spec.logical_id;
    let today = chrono::Utc::now().format("%Y/%m/%d");
    let mut environment: BTreeMap<String, String> = [
        ("_HANDLER", "bootstrap".to_owned()),
        ("AWS_REGION", region.to_owned()),
        ("AWS_DEFAULT_REGION", region.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("{today}/[$LATEST]{}", uuid::Uuid::new_v4().simple()),
        ),
        // Test credentials: DynamoDB Local and the bed accept any signature.
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_SESSION_TOKEN", "test".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(format) = &spec.log_format {
        environment.insert("AWS_LAMBDA_LOG_FORMAT".into(), format.clone());
    }
    environment.extend(spec.environment.clone());
    environment
}
