//! The loss terms as a type. Every fact about a term lives here or in the term's own file:
//! its dopesheet column, when it applies, and its value with its gradient. The dispatch below
//! is an exhaustive `match`, so a new variant does not compile until it has both.

use std::ops::{Index, IndexMut};

use super::{anchor, planarity, reconstruction, separation, unit_norm};
use super::{HostBatch, HostGradient};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Term {
    Reconstruction,
    Separation,
    Planarity,
    UnitNorm,
    Anchor,
}

impl Term {
    pub const COUNT: usize = 5;
    /// In the order a step reports them (the CLI's `losses.csv` columns).
    pub const ALL: [Term; Term::COUNT] = [
        Term::Reconstruction,
        Term::Separation,
        Term::Planarity,
        Term::UnitNorm,
        Term::Anchor,
    ];

    /// The dopesheet column that weights the term.
    pub const fn column(self) -> &'static str {
        match self {
            Term::Reconstruction => "loss-recon",
            Term::Separation => "reg-separate",
            Term::Planarity => "reg-planar",
            Term::UnitNorm => "reg-norm",
            Term::Anchor => "reg-anchor",
        }
    }

    pub fn from_column(name: &str) -> Option<Term> {
        Term::ALL.into_iter().find(|t| t.column() == name)
    }

    /// Whether the term means anything for this model and run: planarity flattens the dims
    /// after the first two, so it needs a third; the anchor term needs the reference the
    /// `anchor` action records.
    pub fn applies(self, latent_dims: usize, anchored: bool) -> bool {
        match self {
            Term::Planarity => latent_dims > 2,
            Term::Anchor => anchored,
            Term::Reconstruction | Term::Separation | Term::UnitNorm => true,
        }
    }

    /// Which terms a step computes: those with weight ≠ 0 that apply (the rest read 0).
    pub fn computed<W: Copy + PartialEq + Default>(
        weights: &PerTerm<W>,
        latent_dims: usize,
        anchored: bool,
    ) -> PerTerm<bool> {
        PerTerm::from_fn(|t| weights[t] != W::default() && t.applies(latent_dims, anchored))
    }

    /// The term's value; with `gradient`, adds `weight ·` its gradient to it.
    pub(crate) fn evaluate(
        self,
        b: &HostBatch,
        weight: f32,
        gradient: Option<&mut HostGradient>,
    ) -> f64 {
        match self {
            Term::Reconstruction => reconstruction::evaluate(b, weight, gradient),
            Term::Separation => separation::evaluate(b, weight, gradient),
            Term::Planarity => planarity::evaluate(b, weight, gradient),
            Term::UnitNorm => unit_norm::evaluate(b, weight, gradient),
            Term::Anchor => anchor::evaluate(b, weight, gradient),
        }
    }
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.column())
    }
}

/// One value per term, indexed by [`Term`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PerTerm<T>(pub [T; Term::COUNT]);

impl<T> PerTerm<T> {
    pub fn from_fn(f: impl FnMut(Term) -> T) -> Self {
        PerTerm(Term::ALL.map(f))
    }

    pub fn iter(&self) -> impl Iterator<Item = (Term, &T)> {
        Term::ALL.into_iter().zip(&self.0)
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> PerTerm<U> {
        PerTerm(self.0.map(f))
    }
}

impl<T> Index<Term> for PerTerm<T> {
    type Output = T;
    fn index(&self, term: Term) -> &T {
        &self.0[term as usize]
    }
}

impl<T> IndexMut<Term> for PerTerm<T> {
    fn index_mut(&mut self, term: Term) -> &mut T {
        &mut self.0[term as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_term_once_in_declaration_order() {
        for (i, term) in Term::ALL.into_iter().enumerate() {
            assert_eq!(term as usize, i);
            assert_eq!(Term::from_column(term.column()), Some(term));
        }
        assert_eq!(Term::from_column("lr"), None);
    }

    #[test]
    fn applicability() {
        assert!(!Term::Planarity.applies(2, true));
        assert!(Term::Planarity.applies(3, false));
        assert!(!Term::Anchor.applies(4, false));
        assert!(Term::Anchor.applies(2, true));
        assert!(Term::Separation.applies(2, false));
    }
}
