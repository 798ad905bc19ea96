import Foundation

/// A paired comparison of two arms run on the same seeds: the per-seed differences
/// `treatment − baseline`, their mean, the standard error of that mean and an exact sign test.
public struct PairedComparison: Codable, Equatable, Sendable {
    public let differences: [Double]
    /// Mean of the differences.
    public let mean: Double
    /// Sample standard deviation of the differences (n − 1 in the denominator) over √n; nil below 2 pairs.
    public let standardError: Double?
    /// Pairs whose difference is below zero, above zero and exactly zero.
    public let below: Int, above: Int, ties: Int
    /// Exact sign test over the untied pairs (ties dropped): the binomial(n, 1/2) probability of a
    /// split at least as uneven as the one seen: two-sided, and one-sided for "below zero" and for
    /// "above zero" (which side is better depends on the metric).
    public let signTestTwoSided: Double, signTestBelow: Double, signTestAbove: Double

    public init(differences: [Double]) {
        precondition(!differences.isEmpty, "a paired comparison needs at least one pair")
        self.differences = differences
        let n = Double(differences.count)
        let mean = differences.reduce(0, +) / n
        self.mean = mean
        if differences.count > 1 {
            let variance = differences.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
            standardError = (variance / n).squareRoot()
        } else {
            standardError = nil
        }
        below = differences.filter { $0 < 0 }.count
        above = differences.filter { $0 > 0 }.count
        ties = differences.count - below - above
        let untied = below + above
        signTestTwoSided = min(1, 2 * Self.binomialTail(atMost: min(below, above), of: untied))
        signTestBelow = Self.binomialTail(atMost: above, of: untied)
        signTestAbove = Self.binomialTail(atMost: below, of: untied)
    }

    /// P(X ≤ k) for X ~ binomial(n, 1/2), summed exactly in Double (n stays small: seeds).
    static func binomialTail(atMost k: Int, of n: Int) -> Double {
        var choose = 1.0, sum = 0.0
        for i in 0...max(0, min(k, n)) {
            if i > 0 { choose = choose * Double(n - i + 1) / Double(i) }
            sum += choose
        }
        return sum / pow(2, Double(n))
    }
}
