# test_http_stream.sh with every call through libcurl (MAYFLY_HTTP_ENGINE=curl): streamed
# responses answer to one behaviour suite on both engines.
export MAYFLY_HTTP_ENGINE=curl
source "$(dirname "$0")/test_http_stream.sh"
