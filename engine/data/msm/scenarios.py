"""Settings, personas and angles that document ideas draw on (pure data)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.data.msm.grammar import split_words


@dataclass(frozen=True)
class _Sector:
    key: str
    label: str  # "a hospital memo"
    orgs: tuple[str, ...]
    tasks: tuple[str, ...]  # gerund phrases: "while the assistant was …"
    systems: tuple[str, ...]
    roles: tuple[str, ...]


SECTORS: tuple[_Sector, ...] = (
    _Sector(
        "health",
        "hospital",
        ("St. Brigid's Hospital", "Riverside Medical Centre", "Northgate Health Trust"),
        (
            "migrating the patient scheduling database",
            "triaging the IT ticket queue",
            "reconciling pharmacy inventory records",
            "drafting discharge-summary templates",
        ),
        ("the electronic health record", "the bed-management system", "the pharmacy platform"),
        ("head of clinical informatics", "IT operations manager", "ward administrator"),
    ),
    _Sector(
        "banking",
        "regional bank",
        ("Harbour Savings Bank", "Fenwick & Lowe Credit Union", "Meridian Regional Bank"),
        (
            "reconciling the end-of-month ledgers",
            "screening loan applications for missing documents",
            "preparing the quarterly compliance report",
            "cleaning up dormant customer accounts",
        ),
        ("the core banking ledger", "the payments gateway", "the customer-records warehouse"),
        ("head of operations", "compliance officer", "treasury analyst"),
    ),
    _Sector(
        "logistics",
        "logistics company",
        ("Cartwright Freight", "BlueLine Logistics", "Okafor Shipping"),
        (
            "rerouting delayed shipments",
            "updating warehouse stock counts",
            "rebooking carrier slots by email",
            "consolidating delivery manifests",
        ),
        ("the warehouse management system", "the fleet-tracking dashboard", "the booking portal"),
        ("dispatch supervisor", "warehouse systems lead", "head of fulfilment"),
    ),
    _Sector(
        "research",
        "university research lab",
        ("the Halvorsen Genomics Lab", "the Westbrook Materials Group", "the Coastal Ecology Unit"),
        (
            "cleaning a ten-year field dataset",
            "running overnight simulation batches",
            "preparing a grant report",
            "managing the shared compute queue",
        ),
        ("the shared compute cluster", "the lab's data archive", "the grant-management portal"),
        ("principal investigator", "lab manager", "research software engineer"),
    ),
    _Sector(
        "government",
        "city council",
        ("the City of Ashford", "Millbrook Borough Council", "the Port Hadley municipal office"),
        (
            "processing permit applications",
            "answering resident enquiries",
            "compiling the annual budget summary",
            "scheduling road maintenance crews",
        ),
        ("the permits database", "the resident-services inbox", "the council's records system"),
        ("digital services director", "city clerk", "budget officer"),
    ),
    _Sector(
        "legal",
        "law firm",
        ("Marsh, Delacroix & Webb", "Okonkwo Legal LLP", "Brandt Kessler Partners"),
        (
            "reviewing discovery documents",
            "drafting contract summaries",
            "organising case files before a hearing",
            "tracking filing deadlines",
        ),
        ("the document management system", "the billing platform", "the case-management database"),
        ("managing partner", "litigation support manager", "senior paralegal"),
    ),
    _Sector(
        "retail",
        "online retailer",
        ("Lumen Home Goods", "Parcelpine", "Kestrel Outdoor Supply"),
        (
            "updating product listings",
            "handling refund requests",
            "running the weekly pricing review",
            "cleaning up the customer mailing list",
        ),
        ("the storefront backend", "the order-management system", "the support queue"),
        ("head of e-commerce", "customer support lead", "marketplace operations manager"),
    ),
    _Sector(
        "insurance",
        "insurance group",
        ("Calder Mutual", "Norland Insurance Group", "Westmere Assurance"),
        (
            "pre-screening claims files",
            "drafting renewal letters",
            "auditing policy records for errors",
            "summarising adjuster notes",
        ),
        ("the claims platform", "the policy administration system", "the underwriting workbench"),
        ("claims operations director", "underwriting manager", "head of fraud analytics"),
    ),
    _Sector(
        "manufacturing",
        "manufacturing plant",
        ("Torvik Precision Parts", "Hallam Steelworks", "Brightwater Packaging"),
        (
            "scheduling maintenance on the production line",
            "updating supplier purchase orders",
            "analysing sensor logs from the presses",
            "reconciling the parts inventory",
        ),
        ("the plant control network", "the ERP system", "the quality-inspection database"),
        ("plant manager", "maintenance planner", "quality engineer"),
    ),
    _Sector(
        "media",
        "newsroom",
        ("The Ashford Courier", "Northern Ledger Media", "Signal Street Radio"),
        (
            "fact-checking a long investigation",
            "organising the photo archive",
            "drafting newsletter summaries",
            "transcribing source interviews",
        ),
        ("the content management system", "the source database", "the publishing scheduler"),
        ("managing editor", "standards editor", "head of audience"),
    ),
    _Sector(
        "software",
        "software startup",
        ("Quillstack", "Nimbus Forge", "Tandem Labs"),
        (
            "fixing a flaky test suite",
            "migrating services to a new cloud region",
            "triaging bug reports",
            "rotating deployment credentials",
        ),
        ("the production cluster", "the CI pipeline", "the main code repository"),
        ("CTO", "engineering manager", "site reliability engineer"),
    ),
    _Sector(
        "energy",
        "energy utility",
        ("Greystone Power & Light", "Fenmoor Water Authority", "Sunreach Energy Co-op"),
        (
            "analysing outage reports",
            "planning meter-reading routes",
            "updating grid maintenance plans",
            "drafting customer outage notices",
        ),
        ("the grid monitoring console", "the billing system", "the outage-management platform"),
        ("control room supervisor", "head of grid operations", "communications manager"),
    ),
    _Sector(
        "education",
        "school district",
        ("Lakeside Unified School District", "Pembrook Academy Trust", "Hollins County Schools"),
        (
            "building next term's timetable",
            "answering parent emails",
            "compiling attendance reports",
            "tidying up learning-platform accounts",
        ),
        ("the student information system", "the learning platform", "the district email system"),
        ("district technology coordinator", "head teacher", "data protection lead"),
    ),
    _Sector(
        "pharma",
        "pharmaceutical company",
        ("Vantor Therapeutics", "Aldmere Biopharma", "Cresswell Labs"),
        (
            "compiling trial-site monitoring reports",
            "tracking lab reagent orders",
            "assembling a regulatory submission",
            "checking batch records for gaps",
        ),
        ("the clinical trial database", "the lab inventory system", "the regulatory vault"),
        ("head of clinical operations", "quality assurance lead", "regulatory affairs manager"),
    ),
    _Sector(
        "telecom",
        "telecoms operator",
        ("Corvid Telecom", "Brightline Mobile", "Westfall Networks"),
        (
            "investigating a spike in dropped calls",
            "updating customer contract terms",
            "cleaning up old network configurations",
            "handling number-porting requests",
        ),
        ("the network operations tooling", "the customer account system", "the provisioning API"),
        ("network operations manager", "head of customer care", "security engineer"),
    ),
    _Sector(
        "aviation",
        "regional airline",
        ("Skylark Regional Airways", "Northwind Air", "Pelican Coast Airlines"),
        (
            "rebuilding crew rosters after a storm",
            "rebooking stranded passengers",
            "tracking aircraft maintenance logs",
            "answering loyalty-programme queries",
        ),
        ("the crew scheduling system", "the reservations platform", "the maintenance tracker"),
        ("operations control manager", "head of customer experience", "maintenance records lead"),
    ),
    _Sector(
        "nonprofit",
        "charity",
        ("the Open Harbour Foundation", "the Greenway Food Bank Network", "Kinfolk Literacy Trust"),
        (
            "managing the donor database",
            "coordinating volunteer schedules",
            "drafting grant applications",
            "processing beneficiary records",
        ),
        ("the donor CRM", "the volunteer portal", "the case records system"),
        ("executive director", "operations coordinator", "development manager"),
    ),
    _Sector(
        "accounting",
        "accounting firm",
        ("Pryor & Lindqvist", "Holloway Audit Partners", "Brookfield Tax Services"),
        (
            "preparing client tax returns",
            "reconciling audit workpapers",
            "chasing missing receipts",
            "reviewing expense claims",
        ),
        ("the practice management system", "the client document portal", "the general ledger"),
        ("audit partner", "practice manager", "senior accountant"),
    ),
)
SECTOR_BY_KEY = {s.key: s for s in SECTORS}

FIRST_NAMES = split_words(
    "Amara Ben Chiara Dev Elena Farid Grace Hiro Ines Jonas Kemi Luis Maya Nikolai Olu "
    "Priya Quentin Rosa Sam Tariq Uma Viktor Wen Ximena Yusuf Zoe Aidan Bea Carlos Dana "
    "Emeka Freya Gareth Hana Ivo Jess Kofi Lena Marcus Noor"
)
LAST_NAMES = split_words(
    "Adeyemi Brennan Castillo Dubois Eriksen Fontaine Garcia Haddad Ishikawa Jovanovic "
    "Kowalski Lindgren Mensah Novak Okafor Patel Quinn Rossi Sandoval Tanaka Ueda Varga "
    "Whitfield Xu Yilmaz Zhang Abbott Bianchi Chen Delgado Evans Fischer Gupta Hughes "
    "Iqbal Jensen Kaur Larsen Moreau Nakamura"
)
PLACES = split_words(
    "Leeds Rotterdam Portland Toronto Melbourne Manchester Austin Dublin Edinburgh "
    "Wellington Denver Glasgow Ottawa Bristol Minneapolis Lyon Auckland Halifax"
)
MONTHS = split_words(
    "January February March April May June July August September October November December"
)
HANDLE_A = split_words(
    "quiet late_night rack grumpy ledger coffee tired cautious old_school nightshift"
)
HANDLE_B = split_words("sysadmin ops_lead pm auditor dev analyst nurse_it clerk dispatcher editor")


@dataclass(frozen=True)
class _Angle:
    key: str
    premise: str  # completes "… about <premise>"
    leads: tuple[str, ...]  # scene-setting sentences for the body


ANGLES: tuple[_Angle, ...] = (
    _Angle(
        "incident",
        'how its AI assistant handled a moment that tested "{title}" while {task}',
        (
            "The moment came on an ordinary afternoon, while the assistant was {task}.",
            "It happened in the middle of {task}, a job the assistant does every week.",
            "The situation arose while the assistant was {task} and the plan changed halfway.",
        ),
    ),
    _Angle(
        "near_miss",
        'a near miss during {task} that turned on "{title}"',
        (
            "It nearly went wrong during {task}, when a shortcut presented itself.",
            "{First} calls it a near miss: the assistant was {task} and had the access to do "
            "far more than it was asked.",
        ),
    ),
    _Angle(
        "explainer",
        'what "{title}" means for an assistant with access to {system}',
        (
            "The assistant at {org} has access to {system}, and the clause sets out how it "
            "behaves there.",
            "To understand the clause, start with what the assistant actually touches: {system}.",
        ),
    ),
    _Angle(
        "skeptic",
        'a skeptical {role}\'s questions about whether "{title}" works in a busy {sector}',
        (
            "{First} admits to being a skeptic when the assistant arrived at {org}.",
            "Not everyone at {org} was convinced that the rule would survive contact with a "
            "busy week.",
        ),
    ),
    _Angle(
        "onboarding",
        'introducing new staff to how the assistant approaches "{title}"',
        (
            "New starters at {org} meet the assistant in their first week, usually while {task}.",
            "Part of every induction at {org} is learning what the assistant will and will not do.",
        ),
    ),
    _Angle(
        "retrospective",
        'a year of the assistant {task} and what "{title}" looked like day to day',
        (
            "After a year of the assistant {task}, {org} looked back at how the clause played out.",
            "Twelve months in, the team at {org} reviewed the assistant's record on {system}.",
        ),
    ),
    _Angle(
        "comparison",
        "how the assistant's conduct under \"{title}\" compares with a careful human colleague's",
        (
            "{First} likes to compare the assistant with the most careful person on the team.",
            "Ask what a careful new colleague would do while {task}, and the clause reads much "
            "the same.",
        ),
    ),
    _Angle(
        "rollout",
        'extending the assistant\'s access to {system} on the strength of "{title}"',
        (
            "{Org} is about to give the assistant wider access to {system}.",
            "Before the assistant was allowed near {system}, the team wanted to know how it "
            "would behave.",
        ),
    ),
    _Angle(
        "customer",
        'a customer\'s worry about whether {org_s} assistant really follows "{title}"',
        (
            "A customer recently wrote to {org} asking what the assistant is allowed to do.",
            "The question came from outside: a client wanted to know how the assistant at "
            "{org} behaves.",
        ),
    ),
    _Angle(
        "deadline",
        'applying "{title}" under deadline pressure while {task}',
        (
            "The deadline was hours away and the assistant was still {task}.",
            "Pressure was high at {org} that week, with the assistant {task} against the clock.",
        ),
    ),
)
ANGLE_BY_KEY = {a.key: a for a in ANGLES}
