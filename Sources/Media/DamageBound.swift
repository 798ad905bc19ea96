import Common
import Foundation

/// When damage makes an item unusable: more than `maxDamagedFraction` of a stream's packets failed,
/// or its first second is undecodable; `strict` rejects any failed packet.
public struct DamageBound: Codable, Equatable, Sendable {
    public var maxDamagedFraction: Double = 0.02
    public var strict: Bool = false

    public init() {}

    public init(maxDamagedFraction: Double = 0.02, strict: Bool = false) {
        self.maxDamagedFraction = maxDamagedFraction
        self.strict = strict
    }

    /// Throws InputError(path, "video: 12 of 250 packets undecodable (4.8 %, bound 2 %)") etc.
    /// `stream` names the stream in the reason ("video", "audio").
    public func check(_ damage: StreamDamage, stream: String, path: String) throws {
        guard damage.undecodable > 0 || damage.firstSecondLost else { return }
        let counted = "\(stream): \(damage.undecodable) of \(damage.packets) packets undecodable"
        if strict { throw InputError(path, "\(counted) (strict)") }
        if damage.firstSecondLost { throw InputError(path, "\(stream): first second undecodable (\(damage.undecodable) of \(damage.packets) packets)") }
        let fraction = Double(damage.undecodable) / Double(max(1, damage.packets))
        if fraction > maxDamagedFraction {
            throw InputError(path, "\(counted) (\(String(format: "%.1f", 100 * fraction)) %, bound \(String(format: "%g", 100 * maxDamagedFraction)) %)")
        }
    }
}
