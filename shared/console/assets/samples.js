// Cards to start from. Each binds `${...}` placeholders to its `data`, as Herald does when it
// renders the message (https://learn.microsoft.com/adaptive-cards/templating/language).

const SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json";

export const SAMPLES = [
  {
    id: "announcement",
    label: "Announcement",
    summary: "Office move on Friday",
    card: {
      $schema: SCHEMA,
      type: "AdaptiveCard",
      version: "1.5",
      body: [
        { type: "TextBlock", text: "${title}", size: "Large", weight: "Bolder", wrap: true },
        { type: "TextBlock", text: "${body}", wrap: true },
        {
          type: "FactSet",
          facts: [
            { title: "When", value: "${when}" },
            { title: "Contact", value: "${owner}" },
          ],
        },
      ],
      actions: [{ type: "Action.OpenUrl", title: "Read more", url: "${link}" }],
    },
    data: {
      title: "We are moving to the 4th floor",
      body: "On Friday the team moves upstairs. Pack your desk by Thursday evening; movers handle the rest.",
      when: "Friday, 9:00",
      owner: "Megan Bowen",
      link: "https://learn.microsoft.com/microsoftteams/platform/",
    },
  },
  {
    id: "approval",
    label: "Approval (Action.Execute)",
    summary: "Expense report waiting for you",
    card: {
      $schema: SCHEMA,
      type: "AdaptiveCard",
      version: "1.5",
      body: [
        { type: "TextBlock", text: "Approval requested", size: "Medium", weight: "Bolder" },
        { type: "TextBlock", text: "${requester} asks you to approve ${item}.", wrap: true },
        {
          type: "FactSet",
          facts: [
            { title: "Amount", value: "${amount}" },
            { title: "Reference", value: "${reference}" },
          ],
        },
        { type: "Input.Text", id: "comment", label: "Comment", isMultiline: true, placeholder: "Optional" },
      ],
      actions: [
        { type: "Action.Execute", title: "Approve", verb: "approve", data: { reference: "${reference}" }, style: "positive" },
        { type: "Action.Execute", title: "Reject", verb: "reject", data: { reference: "${reference}" }, style: "destructive" },
      ],
    },
    data: { requester: "Alex Wilber", item: "the Q4 travel expenses", amount: "€ 1,240.00", reference: "EXP-2026-0412" },
  },
  {
    id: "incident",
    label: "Incident (update all)",
    summary: "Incident: mail delivery delayed",
    card: {
      $schema: SCHEMA,
      type: "AdaptiveCard",
      version: "1.5",
      body: [
        {
          type: "Container",
          style: "attention",
          bleed: true,
          items: [{ type: "TextBlock", text: "Incident ${id}: ${status}", weight: "Bolder", size: "Medium", wrap: true }],
        },
        { type: "TextBlock", text: "${summary}", wrap: true },
        {
          type: "FactSet",
          facts: [
            { title: "Impact", value: "${impact}" },
            { title: "Next update", value: "${nextUpdate}" },
          ],
        },
        {
          type: "TextBlock",
          text: "This message is updated in place as the incident moves on: use Update on its page to change every delivered copy.",
          isSubtle: true,
          size: "Small",
          wrap: true,
        },
      ],
      actions: [{ type: "Action.Execute", title: "I am affected", verb: "affected", data: { incident: "${id}" } }],
    },
    data: {
      id: "INC-0193",
      status: "Investigating",
      summary: "Outbound mail is delayed by up to 30 minutes.",
      impact: "All regions",
      nextUpdate: "in 30 minutes",
    },
  },
];
