//! [`Router`] for the meshes: the route object holds the weights, as in
//! Flagger. Linkerd's SMI extension reads a `TrafficSplit`; Gateway API
//! meshes (GAMMA, what current Linkerd implements) and gateways read an
//! `HTTPRoute`. Both are server-side applied, owned by the Canary.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch};
use serde_json::{Value, json};

use super::api_error;
use super::platform::{apply_params, owned_meta, service_name};
use crate::canary::Canary;
use crate::ports::{PortError, Router};

/// The traffic-shifting implementations Warbler drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// SMI `TrafficSplit` (`split.smi-spec.io/v1alpha2`), as Linkerd's SMI
    /// extension and Flagger's `linkerd` provider use.
    TrafficSplit,
    /// Gateway API `HTTPRoute` (`gateway.networking.k8s.io/v1`); its parent
    /// is the Service (a mesh, GAMMA) unless `spec.service.gatewayRefs`
    /// names gateways.
    HttpRoute,
}

/// The provider names Warbler takes, for messages.
pub const PROVIDERS: &str = "linkerd, smi, smi:v1alpha2, gatewayapi, gatewayapi:v1";

impl Provider {
    /// The provider `name` (Flagger's `spec.provider` values) selects.
    pub fn parse(name: &str) -> Result<Provider, String> {
        match name {
            "linkerd" | "smi" | "smi:v1alpha2" => Ok(Provider::TrafficSplit),
            "gatewayapi" | "gatewayapi:v1" => Ok(Provider::HttpRoute),
            other => Err(format!(
                "spec.provider: `{other}` is not a provider Warbler can shift traffic with; use one of {PROVIDERS}"
            )),
        }
    }

    fn api_resource(self) -> ApiResource {
        let gvk = match self {
            Provider::TrafficSplit => {
                GroupVersionKind::gvk("split.smi-spec.io", "v1alpha2", "TrafficSplit")
            }
            Provider::HttpRoute => {
                GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute")
            }
        };
        ApiResource::from_gvk(&gvk)
    }

    /// The route object for `canary` at `weight` percent.
    fn route(self, canary: &Canary, weight: u32) -> Value {
        let service = service_name(canary);
        let port = canary.spec.service.port;
        let (primary, canary_weight) = (100 - weight.min(100), weight.min(100));
        match self {
            Provider::TrafficSplit => json!({
                "spec": {
                    "service": service,
                    "backends": [
                        {"service": format!("{service}-primary"), "weight": primary},
                        {"service": format!("{service}-canary"), "weight": canary_weight},
                    ],
                },
            }),
            Provider::HttpRoute => {
                let parents = canary.spec.service.gateway_refs.clone().unwrap_or_else(
                    || json!([{"group": "", "kind": "Service", "name": service, "port": port}]),
                );
                let mut spec = json!({
                    "parentRefs": parents,
                    "rules": [{
                        "backendRefs": [
                            {"name": format!("{service}-primary"), "port": port, "weight": primary},
                            {"name": format!("{service}-canary"), "port": port, "weight": canary_weight},
                        ],
                    }],
                });
                if let Some(hosts) = &canary.spec.service.hosts {
                    spec["hostnames"] = hosts.clone();
                }
                json!({"spec": spec})
            }
        }
    }
}

/// Routes through the API server, with the provider each Canary names or
/// the controller's default.
#[derive(Clone)]
pub struct KubeRouter {
    client: Client,
    default_provider: Provider,
}

impl KubeRouter {
    /// A router for Canaries that name no provider to use
    /// `default_provider`.
    pub fn new(client: Client, default_provider: Provider) -> Self {
        KubeRouter {
            client,
            default_provider,
        }
    }

    /// The provider `canary` is routed by.
    pub fn provider_of(&self, canary: &Canary) -> Result<Provider, String> {
        canary
            .spec
            .provider
            .as_deref()
            .map_or(Ok(self.default_provider), Provider::parse)
    }
}

impl Router for KubeRouter {
    async fn set_canary_weight(&self, canary: &Canary, weight: u32) -> Result<(), PortError> {
        let provider = self.provider_of(canary).map_err(|message| PortError {
            port: "router",
            message,
        })?;
        let resource = provider.api_resource();
        let name = service_name(canary);
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &canary.metadata.namespace, &resource);
        let mut object = DynamicObject::new(&name, &resource);
        object.metadata = owned_meta(canary, &name);
        object.data = provider.route(canary, weight);
        api.patch(&name, &apply_params(), &Patch::Apply(&object))
            .await
            .map(drop)
            .map_err(api_error(
                "router",
                format!(
                    "cannot set the weight of {} {name} to {weight}; is its CRD installed?",
                    resource.kind
                ),
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary(extra: &str) -> Canary {
        let text = format!(
            "apiVersion: warbler.dev/v1alpha1\nkind: Canary\nmetadata: {{name: frontend, namespace: podinfo}}\nspec:\n  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: frontend}}\n  service: {{port: 9898{extra}}}\n  analysis: {{interval: 1m}}\n"
        );
        Canary::from_yaml("test", &text).unwrap()
    }

    #[test]
    fn flaggers_linkerd_provider_is_a_traffic_split() {
        assert_eq!(Provider::parse("linkerd"), Ok(Provider::TrafficSplit));
        assert_eq!(Provider::parse("gatewayapi:v1"), Ok(Provider::HttpRoute));
    }

    #[test]
    fn an_unknown_provider_is_refused_with_the_list() {
        let err = Provider::parse("istio").unwrap_err();
        assert!(
            err.contains("spec.provider") && err.contains("gatewayapi:v1"),
            "{err}"
        );
    }

    #[test]
    fn a_traffic_split_holds_both_weights() {
        let route = Provider::TrafficSplit.route(&canary(""), 30);
        assert_eq!(route["spec"]["service"], "frontend");
        assert_eq!(route["spec"]["backends"][0]["service"], "frontend-primary");
        assert_eq!(route["spec"]["backends"][0]["weight"], 70);
        assert_eq!(route["spec"]["backends"][1]["service"], "frontend-canary");
        assert_eq!(route["spec"]["backends"][1]["weight"], 30);
    }

    #[test]
    fn an_http_route_without_gateways_has_the_service_as_parent() {
        let route = Provider::HttpRoute.route(&canary(""), 10);
        let parent = &route["spec"]["parentRefs"][0];
        assert_eq!(
            (parent["kind"].as_str(), parent["group"].as_str()),
            (Some("Service"), Some(""))
        );
        let backends = &route["spec"]["rules"][0]["backendRefs"];
        assert_eq!(backends[0]["weight"], 90);
        assert_eq!(backends[1]["weight"], 10);
        assert_eq!(backends[1]["port"], 9898);
    }

    #[test]
    fn an_http_route_takes_the_gateways_and_hosts_given() {
        let route = Provider::HttpRoute.route(
            &canary(
                ", gatewayRefs: [{name: public, namespace: gateways}], hosts: [app.example.com]",
            ),
            0,
        );
        assert_eq!(route["spec"]["parentRefs"][0]["name"], "public");
        assert_eq!(route["spec"]["hostnames"][0], "app.example.com");
    }
}
