// photoloupe desk: upload with progress, drag and drop. No network access beyond this desk.
// Every message a person reads comes from the form's data-* attributes (translated by the server).
(function () {
  "use strict";

  function errorMessage(form, xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) {
        return form.dataset.error + ": " + body.error.message;
      }
    } catch (e) { /* not JSON */ }
    return form.dataset.error + " (HTTP " + xhr.status + ")";
  }

  function send(form) {
    var status = form.querySelector(".status");
    var bar = form.querySelector("progress");
    var button = form.querySelector("button[type=submit]");
    var data = new FormData(form);
    data.delete("lang");
    data.delete("csrf");
    var csrf = form.querySelector("input[name=csrf]");
    var xhr = new XMLHttpRequest();
    // The desk answers 202 and a job at once; waiting a while gets the report in one go.
    xhr.open("POST", form.dataset.api + "?wait=60");
    if (csrf && csrf.value) {
      xhr.setRequestHeader("X-CSRF-Token", csrf.value); // a signed-in session's writes
    }
    xhr.responseType = "text";
    status.className = "status";
    bar.hidden = false;
    bar.value = 0;
    button.disabled = true;
    xhr.upload.onprogress = function (ev) {
      if (ev.lengthComputable) {
        var percent = Math.round((100 * ev.loaded) / ev.total);
        bar.value = percent;
        status.textContent = form.dataset.uploading.replace("{percent}", String(percent));
      }
    };
    xhr.upload.onload = function () {
      bar.value = 100;
      bar.removeAttribute("value"); // indeterminate while the analysis runs
      status.textContent = form.dataset.analysing;
    };
    xhr.onload = function () {
      button.disabled = false;
      if (xhr.status === 200) {
        var id = JSON.parse(xhr.responseText).id;
        window.location.assign(form.dataset.target + id + "?lang=" + form.dataset.lang);
        return;
      }
      if (xhr.status === 202) {
        // Still queued or running: the job's page reloads itself until the report is ready.
        var job = JSON.parse(xhr.responseText).job.id;
        window.location.assign("/jobs/" + job + "?lang=" + form.dataset.lang);
        return;
      }
      bar.hidden = true;
      status.className = "status err";
      status.textContent = errorMessage(form, xhr);
    };
    xhr.onerror = function () {
      button.disabled = false;
      bar.hidden = true;
      status.className = "status err";
      status.textContent = form.dataset.network;
    };
    xhr.send(data);
  }

  document.querySelectorAll("form[data-api]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      send(form);
    });
  });

  var drop = document.getElementById("drop");
  var input = document.getElementById("file");
  var checkForm = document.getElementById("check-form");
  if (drop && input && checkForm) {
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (ev) {
        ev.preventDefault();
        drop.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function (ev) {
        ev.preventDefault();
        drop.classList.remove("over");
      });
    });
    drop.addEventListener("drop", function (ev) {
      if (ev.dataTransfer && ev.dataTransfer.files.length) {
        input.files = ev.dataTransfer.files;
        send(checkForm);
      }
    });
    input.addEventListener("change", function () {
      if (input.files && input.files.length) {
        send(checkForm);
      }
    });
  }

  // Deleting a case cannot be undone: ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.dataset.confirm)) {
        ev.preventDefault();
      }
    });
  });

  // Report pages: a continuous opacity slider beside each map's preset levels.
  document.querySelectorAll(".overlay").forEach(function (box) {
    var map = box.querySelector(".ovmap");
    var controls = box.querySelector(".opctl");
    if (!map || !controls) {
      return;
    }
    var slider = document.createElement("input");
    slider.type = "range";
    slider.min = "0";
    slider.max = "100";
    slider.value = "65";
    slider.className = "opslider";
    slider.setAttribute("aria-label", controls.textContent.split(":")[0].trim());
    slider.addEventListener("input", function () {
      map.style.opacity = String(Number(slider.value) / 100);
    });
    box.querySelectorAll("input.op").forEach(function (preset) {
      preset.addEventListener("change", function () {
        map.style.opacity = "";
        var level = /op(\d+)/.exec(preset.className.replace("op op", "op"));
        if (level) {
          slider.value = level[1];
        }
      });
    });
    controls.appendChild(slider);
  });

  // Comparison pages: a swipe slider over the stored view's draggable divider.
  document.querySelectorAll(".stage").forEach(function (stage) {
    var top = stage.querySelector(".swipe-top");
    if (!top) {
      return;
    }
    var slider = document.createElement("input");
    slider.type = "range";
    slider.min = "0";
    slider.max = "100";
    slider.value = "50";
    slider.className = "swipeslider";
    slider.style.width = stage.style.width || "100%";
    slider.style.maxWidth = "100%";
    slider.style.display = "block";
    slider.addEventListener("input", function () {
      top.style.width = slider.value + "%";
    });
    stage.parentNode.insertBefore(slider, stage);
  });
})();
