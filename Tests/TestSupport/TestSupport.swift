import Foundation

/// Shared helpers for the test targets: where the repository is, how to run the Python
/// reference stack, and scratch folders that clean up after themselves.
public enum TestEnv {
    /// The repository root (found from this source file's location).
    public static let repoRoot: URL = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }()

    /// The Python with the reference stack (torch, librosa, h5py, numpy, cv2): `.venv/bin/python`
    /// made by `make setup`, or `$CALS_PYTHON`.
    public static var python: String {
        if let p = ProcessInfo.processInfo.environment["CALS_PYTHON"] { return p }
        return repoRoot.appendingPathComponent(".venv/bin/python").path
    }

    /// The `cals` binary for end-to-end tests: `$CALS_BIN`, else the one built beside the tests.
    public static var calsBinary: String {
        if let p = ProcessInfo.processInfo.environment["CALS_BIN"] { return p }
        // The test runner lives in the build products folder (Linux: Bundle.main is that
        // folder; macOS: it is the .xctest bundle inside it).
        let bundle = Bundle.main.bundleURL
        return [bundle, bundle.deletingLastPathComponent()]
            .map { $0.appendingPathComponent("cals").path }
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "cals"
    }
}

/// A temporary folder removed on deinit.
public final class ScratchDir {
    public let url: URL
    public init(_ name: String = "cals-test") {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    public func path(_ component: String) -> String { url.appendingPathComponent(component).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

public struct CommandResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs a program and waits; stdout and stderr are captured (through files, so large output
/// cannot dead-lock the pipe).
@discardableResult
public func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                currentDirectory: String? = nil) throws -> CommandResult {
    let scratch = ScratchDir("cmd")
    let outURL = scratch.url.appendingPathComponent("out")
    let errURL = scratch.url.appendingPathComponent("err")
    // A file that cannot be created shows as an error when its handle opens below.
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
    process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus,
                         stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
}

/// Runs a Python reference script from the repository with the reference interpreter; throws
/// with its stderr when it fails.
@discardableResult
public func runPython(_ script: String, _ arguments: [String]) throws -> String {
    let scriptPath = script.hasPrefix("/") ? script : TestEnv.repoRoot.appendingPathComponent(script).path
    let result = try run(TestEnv.python, [scriptPath] + arguments)
    guard result.status == 0 else {
        throw InputErrorForTests("python \(script) failed (\(result.status)): \(result.stderr)")
    }
    return result.stdout
}

/// Runs the ffmpeg command-line tool (used by tests only, to make awkward input files).
public func ffmpeg(_ arguments: [String]) throws {
    let result = try run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y"] + arguments)
    guard result.status == 0 else {
        throw InputErrorForTests("ffmpeg \(arguments.joined(separator: " ")) failed: \(result.stderr)")
    }
}

public struct InputErrorForTests: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Test media made on the spot with the ffmpeg CLI.
public enum TestMedia {
    /// A face photo shipped by scikit-image (python3-skimage): one face of about 150 px.
    public static let facePhoto = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"

    /// A talking-head-like clip: the face photo drifting over a moving test pattern, with a tone
    /// (or no) audio track. `size` is the frame size, the face is scaled to `faceSide` px.
    public static func faceClip(_ path: String, seconds: Double = 2, fps: String = "25",
                                size: String = "320x240", faceSide: Int = 200,
                                audio: Bool = true, sampleRate: Int = 44100) throws {
        var args = ["-f", "lavfi", "-i", "testsrc2=size=\(size):rate=\(fps):duration=\(seconds)",
                    "-loop", "1", "-i", facePhoto]
        if audio {
            args += ["-f", "lavfi", "-i", "sine=frequency=220:sample_rate=\(sampleRate):duration=\(seconds)"]
        }
        args += ["-filter_complex",
                 "[1:v]scale=\(faceSide):\(faceSide)[f];[0:v][f]overlay=x='(W-w)/2+10*sin(2*t)':y='(H-h)/2':shortest=1[v]",
                 "-map", "[v]"]
        if audio { args += ["-map", "2:a", "-c:a", "aac"] }
        args += ["-t", "\(seconds)", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path]
        try ffmpeg(args)
    }

    /// Three photos side by side (astronaut, Grace Hopper, Tom Hanks from `data/faces`: panels
    /// `threeFacePanels`, 320 px high), still, with mild noise, as an H.264 clip of `frames`
    /// frames at 25 fps, with a tone when `audio`.
    public static func threeFaceClip(_ path: String, frames: Int = 40, audio: Bool = false) throws {
        let faces = TestEnv.repoRoot.appendingPathComponent("data/faces").path
        var args: [String] = []
        for photo in ["astronaut.png", "grace_hopper.jpg", "Tom_Hanks_54745.png"] {
            args += ["-loop", "1", "-framerate", "25", "-i", faces + "/" + photo]
        }
        if audio { args += ["-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000:duration=\(Double(frames) / 25)"] }
        args += ["-filter_complex", "[0:v]scale=-2:320,setsar=1[a];[1:v]scale=-2:320,setsar=1[b];[2:v]scale=-2:320,setsar=1[c];"
                 + "[a][b][c]hstack=inputs=3,noise=alls=4:allf=t,format=yuv420p[v]",
                 "-map", "[v]", "-frames:v", "\(frames)", "-c:v", "libx264", "-preset", "ultrafast"]
        args += audio ? ["-map", "3:a", "-c:a", "aac"] : []
        try ffmpeg(args + [path])
    }

    /// The left edges of the three panels of `threeFaceClip`, and its width.
    public static let threeFacePanels = [0, 320, 593, 914]

    /// A clip with no face in it (a test pattern), with audio.
    public static func patternClip(_ path: String, seconds: Double = 1) throws {
        try ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=\(seconds)",
                    "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=16000:duration=\(seconds)",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-t", "\(seconds)", path])
    }

    /// A WAV file with a tone.
    public static func toneWAV(_ path: String, seconds: Double = 1, sampleRate: Int = 16000) throws {
        try ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=\(sampleRate):duration=\(seconds)", path])
    }
}
