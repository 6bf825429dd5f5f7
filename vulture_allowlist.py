"""What vulture (make lint) would call dead but is used from outside our code; everything else it finds fails the
build. Regenerate the list with ``vulture ... --make-whitelist`` and keep only what a category below explains."""
# ruff: noqa: B018, F821

# Called by the platform or a library, not by our code: Lambda entry points, the Lambda context's fields, httpx.Auth
# and io.RawIOBase hooks, pydantic validators and settings, http.server's log hook, PyAV's stream attributes, and
# parameters a signature must have.
lambda_handler  # unused function
model_config  # unused variable
_._check_audio_source  # unused method
_._exactly_one  # unused method
_._parse_options  # unused method
_._one_way_to_choose_the_speaker  # unused method
requires_request_body  # unused variable
requires_response_body  # unused variable
_.auth_flow  # unused method
_.readable  # unused method
_.seekable  # unused method
_.readinto  # unused method
signum  # unused variable
memory_limit_in_mb  # unused variable
aws_request_id  # unused variable
function_version  # unused variable
log_group_name  # unused variable
log_stream_name  # unused variable
_.invoked_function_arn  # unused property
_._one_audio  # unused method
_.pix_fmt  # unused attribute
exc_type  # unused variable
_.log_request  # unused method
_.log_message  # unused method
_.ignore_aliases  # unused method
_.daemon_threads  # unused attribute
do_GET  # unused variable
do_POST  # unused variable
do_PUT  # unused variable
do_DELETE  # unused variable
do_PATCH  # unused variable

# The provider adapters: the registry names each by module and class (providers/registry.py) and imports a job's
# when the job first needs it.
KlingAdapter  # unused class
VolcengineAdapter  # unused class
WaveSpeedAdapter  # unused class

# Fields of records, events, reports and provider bodies: written to JSON by pydantic or dataclasses, read by
# people, by callers and by the tests.
output_uri  # unused variable
actual_cost_usd  # unused variable
report_csv_uri  # unused variable
content_producer  # unused variable
propagate_id  # unused variable
event_id  # unused variable
bytes_read  # unused variable
resolution  # unused variable
has_video  # unused variable
callback_url  # unused variable
requester  # unused variable

# Read by the tests only: the contract's lists, what a test counts, and the tests' reset hook and sample media.
CONTRACT_ERROR_NAMES  # unused variable
provider_status  # unused variable
CONTRACT_PROVIDER_IDS  # unused variable
forget_registered  # unused function
CATALOGUE  # unused variable
_.requests  # unused attribute
portrait_jpeg  # unused function
# The jobs table's listing indexes (job_listing.py): the provider index is queried by the operator CLI (costs, jobs
# list --provider) and the tests; the template test holds both indexes' projections to LISTED_FIELDS.
LISTED_FIELDS  # unused variable
BY_PROVIDER  # unused variable

# The AIGC label's seven fields (avatar_pipeline.aigc.AigcLabel), named as GB 45438-2025 names them; written out
# through model_dump().
Label  # unused variable
ContentProducer  # unused variable
ProduceID  # unused variable
ReservedCode1  # unused variable
ContentPropagator  # unused variable
PropagateID  # unused variable
ReservedCode2  # unused variable
# The MP4 AIGC label's public API, tested (tests/unit/test_mp4_label.py, tests/integration/test_mp4_label_variants.py)
# and waiting for its callers: the persist step's labelling (S3 applier), the CLI's inspect, the provider simulator.
read_aigc_label  # unused function
label_file  # unused function
source_size  # unused variable
moov_growth  # unused variable
