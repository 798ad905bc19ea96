/// The greatest common divisor of two non-negative numbers (Euclid): sample-rate ratios in lowest terms.
public func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int { b == 0 ? a : greatestCommonDivisor(b, a % b) }
