import Common
import Face
import Foundation

/// A person the corpus shows: one face in a photo that a package ships (`make faces` copies the
/// files into `data/faces`).
public struct Identity: Codable, Equatable, Sendable {
    public var name: String
    /// File name inside the faces folder.
    public var file: String
    /// Where the file comes from (for the error message when it is missing).
    public var source: String
    /// Square part of the photo to search for the face (x, y, side), for group photos.
    public var region: [Int]?
    /// Mouth centre as fractions of the detected face box (measured once per photo).
    public var mouthX: Double
    public var mouthY: Double
    /// Side of the square cut out of the photo for one video frame, in face-box sizes.
    public var cropFactor: Double

    public init(name: String, file: String, source: String, region: [Int]? = nil,
                mouthX: Double = 0.5, mouthY: Double = 0.8, cropFactor: Double = 2.2) {
        self.name = name
        self.file = file
        self.source = source
        self.region = region
        self.mouthX = mouthX
        self.mouthY = mouthY
        self.cropFactor = cropFactor
    }

    static let skimage = "Debian python3-skimage (skimage/data/astronaut.png)"
    static let matplotlib = "Debian python-matplotlib-data (mpl-data/sample_data/grace_hopper.jpg)"
    static let insightface = "the insightface 2.1 wheel on PyPI (insightface/data/images)"

    /// The six identities, in the order speakers take them. Three are faces of the insightface
    /// group photo `t1.jpg` that OpenCV's Haar detector finds; the photo is 1280×886.
    public static let builtIn: [Identity] = [
        Identity(name: "david", file: "t1.jpg", source: insightface, region: [400, 220, 240],
                 mouthX: 0.46, mouthY: 0.79),
        Identity(name: "lisa", file: "t1.jpg", source: insightface, region: [1060, 220, 220],
                 mouthY: 0.735),
        Identity(name: "astronaut", file: "astronaut.png", source: skimage, mouthY: 0.8),
        Identity(name: "matthew", file: "t1.jpg", source: insightface, region: [680, 300, 210],
                 mouthY: 0.75),
        // The photo is 112×112 around an 85 px face: a tight crop keeps the frame inside it.
        Identity(name: "hanks", file: "Tom_Hanks_54745.png", source: insightface,
                 mouthX: 0.48, mouthY: 0.88, cropFactor: 1.3),
        Identity(name: "grace", file: "grace_hopper.jpg", source: matplotlib, mouthY: 0.8),
    ]
}

/// An identity's photo, loaded, with its face found by the Haar detector.
public struct FacePhoto: Sendable {
    public let identity: Identity
    public let path: String
    public let image: RGBImage
    public let face: FaceBox

    /// Loads `identity.file` from `folder` and finds the largest face (Face's Haar detector) in
    /// `identity.region`; `face` is square, in photo pixels.
    /// Throws `InputError(path, …)` when the file is missing, unreadable or shows no face.
    public init(_ identity: Identity, folder: String) throws {
        let path = (folder as NSString).appendingPathComponent(identity.file)
        guard FileManager.default.fileExists(atPath: path) else {
            throw InputError(path, "face photo missing: run `make faces` (it comes from \(identity.source))")
        }
        let image = try RGBImage(contentsOfFile: path)
        // A group photo: search only the identity's square (cut out at its own scale).
        var x0 = 0, y0 = 0, searched = image
        if let r = identity.region, r.count == 3 {
            (x0, y0) = (r[0], r[1])
            searched = try image.croppedSquare(x: r[0], y: r[1], side: r[2], size: r[2])
        }
        let faces = try HaarFaceDetector().detect(in: searched).map(\.box.rounded)
        guard let largest = faces.first else {
            throw InputError(path, "no face found by the Haar frontal-face detector (identity \(identity.name))")
        }
        let side = (largest.width + largest.height) / 2
        let face = FaceBox(x: largest.x + Int32(x0), y: largest.y + Int32(y0), width: side, height: side)
        self.identity = identity
        self.path = path
        self.image = image
        self.face = face
    }
}
