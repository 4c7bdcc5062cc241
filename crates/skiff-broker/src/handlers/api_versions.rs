use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

pub fn handle(_request: &ApiVersionsRequest) -> ApiVersionsResponse {
    skiff_protocol::api_versions_response(0)
}
