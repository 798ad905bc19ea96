import CFFmpeg
import Common
import Foundation

/// What a fast look at a media file's header tells (no decoding beyond libavformat's stream
/// probe): used to balance partitions of a dataset by expected work.
public enum MediaProbe {
    /// The file's duration in seconds as its container states it (or libavformat estimates it
    /// from the bit rate), nil when it does not know; throws an `InputError` when the file
    /// cannot be opened.
    public static func duration(of path: String, timeLimit: TimeInterval = 30) throws -> Double? {
        let input = try InputFile(path: path, timeLimit: timeLimit)
        let duration = input.context.pointee.duration
        guard duration != cals_nopts_value(), duration > 0 else { return nil }
        return Double(duration) / Double(AV_TIME_BASE)
    }
}
