//! Shared policies in a cluster: the AnalysisPolicy or ClusterAnalysisPolicy
//! a Canary names by `analysis.policy.policyRef`, adopted into the Canary
//! at each reconcile.
//!
//! Both kinds are watched into local caches, so a thousand Canaries sharing
//! one policy cost the API server no request per step; a name the cache
//! does not know yet (a policy created a moment ago) is read directly.

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use super::describe;
use crate::canary::{
    AnalysisPolicyResource, AnalysisPolicySpec, Canary, ClusterAnalysisPolicyResource, PolicyKind,
    PolicyObjectRef,
};

/// The shared policies the controller can see.
pub struct SharedPolicies {
    namespaced: Store<AnalysisPolicyResource>,
    cluster: Store<ClusterAnalysisPolicyResource>,
    client: Client,
}

impl SharedPolicies {
    /// Start watching both kinds (AnalysisPolicies in `namespace` only,
    /// when the controller watches one namespace). The watches run until
    /// the process ends; a failing one (CRD missing, RBAC) retries with
    /// backoff while direct reads say what is wrong.
    pub fn watch(client: Client, namespace: Option<&str>) -> SharedPolicies {
        let namespaced = match namespace {
            Some(namespace) => Api::namespaced(client.clone(), namespace),
            None => Api::all(client.clone()),
        };
        SharedPolicies {
            namespaced: cache(namespaced),
            cluster: cache(Api::all(client.clone())),
            client,
        }
    }

    /// Make `canary`'s `analysis.policy` say what the shared policy it
    /// names says, and so each shadow policy that names one; nothing to do
    /// for a Canary that names modules itself. The error names the field
    /// and what to do. A shadow's shared policy that cannot be read leaves
    /// that shadow unresolved, to fail at each step: a shadow never stops
    /// a rollout.
    pub async fn adopt(&self, canary: &mut Canary) -> Result<(), String> {
        let namespace = canary.metadata.namespace.clone();
        if let Some(reference) = canary.policy_object().cloned() {
            let shared = self
                .resolve(&reference, &namespace, "spec.analysis.policy.policyRef")
                .await?;
            canary.adopt_policy(&shared)?;
        }
        for (index, shadow) in canary.spec.analysis.shadow_policies.iter_mut().enumerate() {
            let Some(reference) = shadow.policy_ref.clone() else {
                continue;
            };
            let field = format!("spec.analysis.shadowPolicies[{index}]");
            match self
                .resolve(&reference, &namespace, &format!("{field}.policyRef"))
                .await
            {
                Ok(shared) => shadow.adopt(&shared, &field)?,
                Err(err) => tracing::warn!(canary = %canary.metadata.name, namespace, "{err}"),
            }
        }
        Ok(())
    }

    /// The spec of the shared policy `reference` names from a Canary in
    /// `namespace`; `field` names the reference in errors.
    async fn resolve(
        &self,
        reference: &PolicyObjectRef,
        namespace: &str,
        field: &str,
    ) -> Result<AnalysisPolicySpec, String> {
        let found = match reference.kind {
            PolicyKind::AnalysisPolicy => {
                let key = ObjectRef::new(&reference.name).within(namespace);
                let api = Api::namespaced(self.client.clone(), namespace);
                find(&self.namespaced, key, api)
                    .await
                    .map(|r| r.map(|p| p.spec))
            }
            PolicyKind::ClusterAnalysisPolicy => {
                let key = ObjectRef::new(&reference.name);
                let api = Api::all(self.client.clone());
                find(&self.cluster, key, api)
                    .await
                    .map(|r| r.map(|p| p.spec.0))
            }
        };
        match found {
            Ok(Some(spec)) => Ok(spec),
            Ok(None) => Err(format!(
                "{field}: {} not found; create it (apiVersion warbler.dev/v1alpha1) or fix the name",
                reference.describe(namespace)
            )),
            Err(err) => Err(format!(
                "{field}: cannot read {}: {err}; install the CRDs (`warbler crd`) and check the controller's RBAC",
                reference.describe(namespace)
            )),
        }
    }
}

/// A cache of `api`'s objects, kept by a watch that runs in the background.
fn cache<K>(api: Api<K>) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync,
    K: 'static,
{
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    tokio::spawn(stream.for_each(|event| async move {
        if let Err(err) = event {
            tracing::debug!("watching shared policies: {err}");
        }
    }));
    store
}

/// The object `key` names: from the cache, else read from the API server.
async fn find<K>(store: &Store<K>, key: ObjectRef<K>, api: Api<K>) -> Result<Option<K>, String>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    if let Some(object) = store.get(&key) {
        return Ok(Some((*object).clone()));
    }
    api.get_opt(&key.name).await.map_err(|err| describe(&err))
}
