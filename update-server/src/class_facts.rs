//! The class-level facts every check-in reads (published releases and pins, class
//! profiles, active rollouts), kept in memory. They change only when an operator
//! publishes, sets a class or drives a rollout, or when a rollout moves a wave, while
//! check-ins arrive thousands of times a second; reading them from the database each
//! time was most of a check-in's cost.
//!
//! A copy is used while it is younger than [`MAX_AGE`] and this process has committed no
//! class-level change since it was loaded ([`Store::class_generation`]), so a change made
//! here is seen by the next check-in, and one made by another replica within
//! [`MAX_AGE`].

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use update_core::classes::{ClassProfile, RolloutStatus};

use crate::fleet::Catalogue;
use crate::store::{Store, StoreError};

/// How long a copy may miss another replica's changes.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// One consistent read of the class-level facts.
#[derive(Debug, Default)]
pub struct ClassFacts {
    pub catalogue: Catalogue,
    pub profiles: BTreeMap<String, ClassProfile>,
    /// The rollout that governs each class that has one.
    pub rollouts: BTreeMap<String, RolloutStatus>,
}

impl ClassFacts {
    async fn load(store: &Store) -> Result<ClassFacts, StoreError> {
        Ok(ClassFacts {
            catalogue: Catalogue::load(store).await?,
            profiles: store.profiles().await?,
            rollouts: store.active_rollouts().await?,
        })
    }
}

#[derive(Debug)]
struct Loaded {
    facts: Arc<ClassFacts>,
    generation: u64,
    at: Instant,
}

/// The shared copy and the rule for reloading it.
#[derive(Debug, Default)]
pub struct ClassFactsCache {
    loaded: RwLock<Option<Loaded>>,
    /// One reload at a time: a burst of check-ins after a change waits for one read.
    reloading: tokio::sync::Mutex<()>,
}

impl ClassFactsCache {
    /// The current facts, reloaded if stale.
    pub async fn get(&self, store: &Store) -> Result<Arc<ClassFacts>, StoreError> {
        if let Some(facts) = self.fresh(store) {
            return Ok(facts);
        }
        let _reloading = self.reloading.lock().await;
        if let Some(facts) = self.fresh(store) {
            return Ok(facts);
        }
        // Read before loading: a change committed during the load makes the copy stale.
        let generation = store.class_generation();
        let facts = Arc::new(ClassFacts::load(store).await?);
        let mut loaded = self.loaded.write().unwrap_or_else(PoisonError::into_inner);
        *loaded = Some(Loaded {
            facts: facts.clone(),
            generation,
            at: Instant::now(),
        });
        Ok(facts)
    }

    fn fresh(&self, store: &Store) -> Option<Arc<ClassFacts>> {
        let loaded = self.loaded.read().unwrap_or_else(PoisonError::into_inner);
        loaded
            .as_ref()
            .filter(|l| l.generation == store.class_generation() && l.at.elapsed() < MAX_AGE)
            .map(|l| l.facts.clone())
    }
}
