//! The HTTP API (payload format 2.0) over real HTTP, proven on the probe.

use std::net::SocketAddr;
use std::time::Duration;

use herald_lambda_bed::template::Route;
use herald_lambda_bed::{Binding, HttpApi, INTEGRATION_TIMEOUT};
use serde_json::{Value, json};

use crate::support::probe;

async fn api(timeout: Duration) -> (HttpApi, crate::support::Probe) {
    let probe = probe("Http", Duration::from_secs(10), 2, &[]);
    let route = Route {
        method: "POST".to_owned(),
        path: "/api/echo/{id}".to_owned(),
    };
    let api = HttpApi::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        vec![Binding {
            route,
            function: probe.function.clone(),
        }],
        timeout,
    )
    .await
    .unwrap();
    (api, probe)
}

#[tokio::test]
async fn a_request_becomes_a_v2_event_and_the_answer_becomes_the_response() {
    let (api, _probe) = api(INTEGRATION_TIMEOUT).await;
    let client = reqwest::Client::new();
    let answer = client
        .post(format!("{}/api/echo/42?a=1&a=2&b=x%20y", api.url()))
        .header("cookie", "c1=v1; c2=v2")
        .header("x-custom", "yes")
        .json(&json!({"hello": "bed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    assert_eq!(answer.headers()["x-probe"], "yes");
    assert_eq!(answer.headers()["set-cookie"], "probe=1; Path=/");
    let body: Value = answer.json().await.unwrap();
    let event = &body["payload"];
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "POST /api/echo/{id}");
    assert_eq!(event["rawPath"], "/api/echo/42");
    assert_eq!(event["rawQueryString"], "a=1&a=2&b=x%20y");
    assert_eq!(
        event["queryStringParameters"],
        json!({"a": "1,2", "b": "x y"})
    );
    assert_eq!(event["pathParameters"], json!({"id": "42"}));
    assert_eq!(event["cookies"], json!(["c1=v1", "c2=v2"]));
    assert_eq!(event["headers"]["x-custom"], "yes");
    assert!(event["headers"].get("cookie").is_none());
    assert_eq!(event["requestContext"]["http"]["method"], "POST");
    assert_eq!(event["requestContext"]["stage"], "$default");
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(
        serde_json::from_str::<Value>(event["body"].as_str().unwrap()).unwrap(),
        json!({"hello": "bed"})
    );

    let missing = client
        .get(format!("{}/api/echo/42", api.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        json!({"message": "Not Found"})
    );
    let failed = client
        .post(format!("{}/api/echo/1", api.url()))
        .json(&json!({"action": "error"}))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 500);
    assert_eq!(
        failed.json::<Value>().await.unwrap(),
        json!({"message": "Internal Server Error"})
    );
}

#[tokio::test]
async fn the_integration_timeout_answers_503() {
    let (api, _probe) = api(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let answer = reqwest::Client::new()
        .post(format!("{}/api/echo/1", api.url()))
        .json(&json!({"action": "sleep:3000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 503);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"message": "Service Unavailable"})
    );
    assert!(started.elapsed() < Duration::from_millis(2500));
}
