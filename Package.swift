// swift-tools-version:6.0
import PackageDescription

// One system-library target per C library, Swift modules above them, and the `cals` tool.
// See README.md ("Where things live") for the map.
let package = Package(
    name: "cals",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "cals", targets: ["cals"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        // MARK: C libraries (module maps over the system headers)
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev",
                                         "libswscale-dev", "libswresample-dev", "libavfilter-dev"])]),
        .systemLibrary(name: "CSndFile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CEspeakNG", pkgConfig: "espeak-ng", providers: [.apt(["libespeak-ng-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        // A plain C API over the few OpenCV calls we need (no C++ interop above it), linked to
        // the four OpenCV libraries it calls (libopencv-dev's headers): pkg-config's opencv4
        // lists all ~60, whose loading took half of every `cals` start.
        .target(name: "COpenCVShim",
                cxxSettings: [.unsafeFlags(["-std=c++17", "-O2", "-I/usr/include/opencv4"])],
                linkerSettings: ["opencv_objdetect", "opencv_imgcodecs", "opencv_imgproc", "opencv_core"].map { .linkedLibrary($0) }),

        // MARK: Swift modules, lowest first (a module depends only on modules above it here;
        // `make check-deps` checks the imports against the same order, tools/check_deps.py)
        .target(name: "Common", swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Media", dependencies: ["CFFmpeg", "CSndFile", "Common"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Face", dependencies: ["NN", "Tensor", "COpenCVShim", "Common"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "AudioFeatures", dependencies: ["CFFTW", "Common"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Shards", dependencies: ["CHDF5", "Common"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Tensor", dependencies: ["COpenBLAS", "Common"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // The ledger's read side and the processed dataset: what every reader of processed data uses.
        .target(name: "Dataset", dependencies: ["Shards", "Common", .product(name: "GRDB", package: "GRDB.swift")],
                swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "NN", dependencies: ["Tensor", "Common"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // MPI for data-parallel training: the process world and its collectives.
        .target(name: "Distributed", dependencies: ["CMPI", "Tensor", "Common"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Models", dependencies: ["NN", "Tensor", "Common"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Training", dependencies: ["Models", "Dataset", "Distributed", "Shards", "Face", "CZlib", "Common"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Pipelines", dependencies: [
            "Media", "Face", "AudioFeatures", "Shards", "Dataset", "Models", "Common",
            .product(name: "Yams", package: "Yams"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ], path: "Pipelines", swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Dubbing", dependencies: ["Media", "Face", "AudioFeatures", "Models", "NN", "Tensor", "Common"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Corpus", dependencies: ["Media", "Face", "CEspeakNG", "COpenCVShim", "Common"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .executableTarget(name: "cals", dependencies: [
            "Common", "Media", "Face", "AudioFeatures", "Shards", "Dataset", "Tensor", "NN", "Models",
            "Training", "Distributed", "Corpus", "Pipelines", "Dubbing",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: [.swiftLanguageMode(.v6)]),

        // MARK: Tests (one target per module; golden tests call the Python reference stack)
        .target(name: "TestSupport", dependencies: ["Common"], path: "Tests/TestSupport"),
        // Gradient checks, the PyTorch golden comparison and tiny model configs for the tests of
        // Tensor, NN, Models and Training.
        .target(name: "ModelTestSupport", dependencies: ["Tensor", "NN", "Models", "TestSupport"], path: "Tests/ModelTestSupport"),
        .testTarget(name: "CommonTests", dependencies: ["Common"]),
        .testTarget(name: "MediaTests", dependencies: ["Media", "Corpus", "TestSupport"]),
        .testTarget(name: "FaceTests", dependencies: ["Face", "Media", "TestSupport"], exclude: ["golden"]),
        .testTarget(name: "AudioFeaturesTests", dependencies: ["AudioFeatures", "Media", "TestSupport"],
                    exclude: ["golden"]),
        .testTarget(name: "ShardsTests", dependencies: ["Shards", "TestSupport"], exclude: ["golden"]),
        .testTarget(name: "DatasetTests", dependencies: ["Dataset", "Shards", "Common", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "NN", "ModelTestSupport", "TestSupport"], exclude: ["golden"]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Tensor", "Common", "ModelTestSupport", "TestSupport"], exclude: ["golden"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "NN", "Tensor", "ModelTestSupport", "TestSupport"], exclude: ["golden"]),
        .testTarget(name: "CorpusTests", dependencies: ["Corpus", "Media", "Face", "TestSupport"]),
        .testTarget(name: "PipelinesTests", dependencies: ["Pipelines", "Media", "Face", "Shards", "Training", "Models", "NN", "Tensor", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Dataset", "Models", "NN", "Tensor", "Shards", "Pipelines", "Face", "ModelTestSupport", "TestSupport"],
                    exclude: ["golden"]),
        .testTarget(name: "DubbingTests", dependencies: ["Dubbing", "Face", "Common", "TestSupport"], exclude: ["check_dub.py"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Corpus", "TestSupport"], exclude: ["check_extract.py", "compare_extracts.py"]),
    ],
    swiftLanguageModes: [.v5],
    cxxLanguageStandard: .cxx17
)
