//! Reading the settings secret from Secrets Manager, on moto's server (`.ci/with-services`).

use herald_settings::{Settings, SettingsError};

fn client() -> aws_sdk_secretsmanager::Client {
    let moto = herald_testkit::aws_config(herald_testkit::moto_endpoint());
    aws_sdk_secretsmanager::Client::new(&moto)
}

#[tokio::test]
async fn loads_the_json_secret_by_arn_and_by_name() {
    let client = client();
    let name = herald_testkit::unique_name("herald-settings");
    let created = client
        .create_secret()
        .name(&name)
        .secret_string(r#"{"MicrosoftAppPassword":"pw","HERALD_API_KEY_SHA256":"abc"}"#)
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap();
    for id in [arn, name.as_str()] {
        let settings = Settings::load_from(&client, id).await.unwrap();
        let lookup = settings.lookup();
        assert_eq!(lookup("MicrosoftAppPassword").as_deref(), Some("pw"));
        assert_eq!(lookup("HERALD_API_KEY_SHA256").as_deref(), Some("abc"));
    }
}

#[tokio::test]
async fn a_missing_or_malformed_secret_stops_start_up() {
    let client = client();
    let missing = herald_testkit::unique_name("herald-missing");
    let error = Settings::load_from(&client, &missing).await.unwrap_err();
    assert!(
        matches!(&error, SettingsError::Read { secret, .. } if *secret == missing),
        "{error}"
    );

    let name = herald_testkit::unique_name("herald-plain");
    client
        .create_secret()
        .name(&name)
        .secret_string("just-a-password")
        .send()
        .await
        .unwrap();
    let error = Settings::load_from(&client, &name).await.unwrap_err();
    assert!(matches!(error, SettingsError::NotObject { .. }), "{error}");
}
