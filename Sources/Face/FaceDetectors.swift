// The registry of face detectors the manifest can name.

/// Every detector the face stage can use (`detector: <name>`). Adding a detector is its own
/// file conforming to `FaceDetecting` plus one line here.
public enum FaceDetectors {
    public static let all: [any FaceDetecting.Type] = [
        HaarFaceDetector.self,
        MTCNNFaceDetector.self,
    ]

    public static var names: [String] { all.map { $0.name } }
}
