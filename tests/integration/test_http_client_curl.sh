# test_http_client.sh with every call through libcurl (MAYFLY_HTTP_ENGINE=curl): the two
# engines answer to one behaviour suite.
export MAYFLY_HTTP_ENGINE=curl
source "$(dirname "$0")/test_http_client.sh"
