//! Reading `target`: every kind, and every mistake named by its field.

use herald_domain::{AadObjectId, ConversationId, ConversationType, TeamId, TenantId};
use serde_json::json;

use super::*;

#[test]
fn reads_every_target_kind() {
    let cases = [
        (json!({"kind": "all"}), Target::All),
        (
            json!({"kind": "type", "type": "channel"}),
            Target::Type {
                conversation_type: ConversationType::Channel,
            },
        ),
        (
            json!({"kind": "tenant", "tenantId": "t1"}),
            Target::Tenant {
                tenant_id: TenantId::new("t1").unwrap(),
            },
        ),
        (
            json!({"kind": "team", "teamId": "19:x@thread.tacv2", "tenantId": "t1", "channel": "*"}),
            Target::Team {
                team_id: TeamId::new("19:x@thread.tacv2").unwrap(),
                tenant_id: Some(TenantId::new("t1").unwrap()),
                channel: "*".into(),
            },
        ),
        (
            // Teams spells the tenant GUID in lowercase.
            json!({"kind": "team", "teamId": "19:x@thread.tacv2",
                   "tenantId": "0D9A32F0-1C3E-4C9B-9A57-6E1B3A4C5D6E"}),
            Target::Team {
                team_id: TeamId::new("19:x@thread.tacv2").unwrap(),
                tenant_id: Some(TenantId::new("0d9a32f0-1c3e-4c9b-9a57-6e1b3a4c5d6e").unwrap()),
                channel: "General".into(),
            },
        ),
        (
            json!({"kind": "teamMembers", "teamId": "19:x@thread.tacv2", "tenantId": "t1"}),
            Target::TeamMembers {
                team_id: TeamId::new("19:x@thread.tacv2").unwrap(),
                tenant_id: Some(TenantId::new("t1").unwrap()),
            },
        ),
        (
            json!({"kind": "person", "aadObjectId": "aad-1", "tenantId": "t1"}),
            Target::Person {
                aad_object_id: AadObjectId::new("aad-1").unwrap(),
                tenant_id: TenantId::new("t1").unwrap(),
            },
        ),
        (
            // Teams spells GUIDs in lowercase: capitals still match, and repeats go.
            json!({"kind": "users", "tenantId": "0D9A32F0-1C3E-4C9B-9A57-6E1B3A4C5D6E",
                   "aadObjectIds": ["A1B2C3D4-0000-4000-8000-00000000000A",
                                    "a1b2c3d4-0000-4000-8000-00000000000a",
                                    "5b649834-7412-4cce-9e69-176e95a394f5"]}),
            Target::Users {
                aad_object_ids: vec![
                    AadObjectId::new("a1b2c3d4-0000-4000-8000-00000000000a").unwrap(),
                    AadObjectId::new("5b649834-7412-4cce-9e69-176e95a394f5").unwrap(),
                ],
                tenant_id: TenantId::new("0d9a32f0-1c3e-4c9b-9a57-6e1b3a4c5d6e").unwrap(),
            },
        ),
        (
            json!({"kind": "conversations", "ids": ["a:1", "19:g@thread.v2", "a:1"]}),
            Target::Conversations {
                ids: vec![
                    ConversationId::new("a:1").unwrap(),
                    ConversationId::new("19:g@thread.v2").unwrap(),
                ],
            },
        ),
    ];
    for (target, expected) in cases {
        let request =
            NotifyRequest::from_json(&json!({"target": target, "message": {"text": "hi"}}))
                .unwrap();
        assert_eq!(request.target, expected);
        // The stored form reads back as the same target (the sender deserializes it).
        let stored = serde_json::to_value(&request.target).unwrap();
        assert_eq!(serde_json::from_value::<Target>(stored).unwrap(), expected);
    }
}

#[test]
fn every_target_error_names_its_field() {
    let text = json!({"text": "hi"});
    let cases = [
        (json!(null), "target"),
        (json!("all"), "target"),
        (json!({}), "target.kind"),
        (json!({"kind": 3}), "target.kind"),
        (json!({"kind": "everyone"}), "target.kind"),
        (json!({"kind": "all", "tenantId": "t"}), "target.tenantId"),
        (json!({"kind": "type"}), "target.type"),
        (json!({"kind": "type", "type": "meeting"}), "target.type"),
        (json!({"kind": "tenant"}), "target.tenantId"),
        (
            json!({"kind": "users", "tenantId": "t"}),
            "target.aadObjectIds",
        ),
        (
            json!({"kind": "users", "tenantId": "t", "aadObjectIds": []}),
            "target.aadObjectIds",
        ),
        (
            json!({"kind": "users", "tenantId": "t",
                   "aadObjectIds": ["5b649834-7412-4cce-9e69-176e95a394f5", ".."]}),
            "target.aadObjectIds[1]",
        ),
        (
            json!({"kind": "users", "aadObjectIds": ["5b649834-7412-4cce-9e69-176e95a394f5"]}),
            "target.tenantId",
        ),
        (
            json!({"kind": "tenant", "tenantId": " "}),
            "target.tenantId",
        ),
        (
            json!({"kind": "tenant", "tenantId": "t\u{7}"}),
            "target.tenantId",
        ),
        (
            json!({"kind": "team", "tenantId": "t1", "channel": "General"}),
            "target.teamId",
        ),
        (
            json!({"kind": "team", "teamId": "t", "tenantId": "t1", "channel": 5}),
            "target.channel",
        ),
        (
            json!({"kind": "teamMembers", "teamId": 1, "tenantId": "t1"}),
            "target.teamId",
        ),
        // A tenant, when named, must be one.
        (
            json!({"kind": "team", "teamId": "19:x@thread.tacv2", "tenantId": ""}),
            "target.tenantId",
        ),
        (
            json!({"kind": "person", "tenantId": "t"}),
            "target.aadObjectId",
        ),
        (
            json!({"kind": "person", "aadObjectId": "a"}),
            "target.tenantId",
        ),
        (json!({"kind": "conversations"}), "target.ids"),
        (json!({"kind": "conversations", "ids": []}), "target.ids"),
        (json!({"kind": "conversations", "ids": "a:1"}), "target.ids"),
        (
            json!({"kind": "conversations", "ids": ["a:1", ""]}),
            "target.ids[1]",
        ),
        (
            json!({"kind": "conversations", "ids": ["a:1", 7]}),
            "target.ids[1]",
        ),
    ];
    for (target, field) in cases {
        let body = if target.is_null() {
            json!({"message": text})
        } else {
            json!({"target": target, "message": text})
        };
        rejected(&body, "InvalidTarget", field);
    }
    let many: Vec<String> = (0..=MAX_CONVERSATION_IDS)
        .map(|n| format!("a:{n}"))
        .collect();
    rejected(
        &json!({"target": {"kind": "conversations", "ids": many}, "message": text}),
        "InvalidTarget",
        "target.ids",
    );
}
